#pragma once
// Configuration files (--config FILE, or LOGSHIP_CONFIG) and --print-config, for all three programs.
//
// One TOML file can serve a whole host: top-level keys are shared by every program that has the
// setting (and ignored by the others), and a table per program ([log_producer], [log_aggregator],
// [logctl], and [logctl.SUBCOMMAND]) overrides them for that program. A key is an option's long
// name (dashes or underscores); values are typed (strings, integers, floats, booleans for flags,
// arrays for repeatable options and for lists such as --broker's URLs).
//
// Precedence, per option: command line > environment variable > configuration file > default.
//
// Nothing here names an option: the settings are the options of the CLI11 apps, found by their
// long names, so a flag added to a program is settable in the file at once.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.hpp"

namespace logship::cli {

// A bad configuration file. what() names the file, the line and the key:
// "/etc/logship/logship.toml:12: key 'prefetch': must be between 1 and 65535, not 0". Exit 2.
class ConfigError : public UsageError {
 public:
  using UsageError::UsageError;
};

// The TOML type a setting takes, from its option: a flag takes a boolean; an INT/UINT option an
// integer (or a string such as "256K" for the options that take suffixes); a FLOAT option a
// number (or a string); any other option a string.
enum class ValueKind { Flag, Integer, Number, Text };

struct SettingKind {
  ValueKind kind = ValueKind::Text;
  bool list = false;  // an array is accepted: a repeatable option, or a list joined into one value (--broker)
};

// The settings (long option names) of the option, or "" when it is no setting: positional
// arguments, --help, --version, --config and --print-config.
std::string settingName(const CLI::Option& option);
SettingKind settingKind(const CLI::Option& option);

// Every program's settings, to check a host-wide file: a top-level key is valid if some program
// has it, a key in [PROGRAM] if that program (or one of its subcommands) has it, a key in
// [PROGRAM.SUBCOMMAND] if that subcommand has it.
class ProgramCatalog {
 public:
  // Adds a program (named app.get_name()) with its options and its subcommands' options.
  void add(const CLI::App& app);

  struct Command {
    std::map<std::string, SettingKind> settings;
  };
  struct Program {
    Command main;
    std::map<std::string, Command> subcommands;
  };
  const std::map<std::string, Program>& programs() const { return programs_; }

 private:
  std::map<std::string, Program> programs_;
};

// One key of a file, typed and checked against the catalog.
struct ConfigValue {
  enum class Type { String, Integer, Float, Boolean, Array, Other };
  std::string key;  // as written in the file
  Type type = Type::Other;
  std::vector<Type> elementTypes;  // of an array
  std::vector<std::string> texts;  // the value(s) as command-line text
  int line = 0;
  std::string typeName;  // "a string", "an integer", ...: for messages
};

// A loaded configuration file: read, parsed and checked against every program of the catalog
// (unknown keys, keys in the wrong table and values of a type no program takes are errors). The
// values are checked against an option (ranges, choices) when they are applied to it.
class ConfigFile {
 public:
  // Throws ConfigError (syntax, unknown key, wrong type) or UsageError (unreadable file).
  static ConfigFile load(const std::string& path, const ProgramCatalog& catalog);

  const std::string& path() const { return path_; }
  // The value of `setting` for PROGRAM SUBCOMMAND ("" for none): [PROGRAM.SUBCOMMAND] first, then
  // [PROGRAM], then the top level. nullptr when the file does not set it.
  const ConfigValue* find(const std::string& program, const std::string& subcommand, const std::string& setting) const;

 private:
  using Table = std::map<std::string, ConfigValue>;  // by setting name (dashes)
  std::string path_;
  Table top_;
  std::map<std::string, Table> programs_;                            // [PROGRAM] by program name
  std::map<std::string, std::map<std::string, Table>> subcommands_;  // [PROGRAM.SUBCOMMAND]
};

// Adds --config FILE and --print-config to `app` and to each of its subcommands (call once the
// program's own options are defined).
void addConfigFlags(CLI::App& app);

// The outcome of parsing a command line with configure().
class Configuration {
 public:
  // --print-config was given: print toToml() and exit 0 instead of running.
  bool printRequested() const { return printRequested_; }
  // The effective configuration as TOML that --config loads again: one table per command that
  // runs ([PROGRAM], or [PROGRAM.SUBCOMMAND]; every subcommand when none was given), each setting
  // with where it came from. Settings left at their default are commented out. Passwords in URLs
  // are shown as ***; a password file is named, never read.
  std::string toToml() const;
  // Where `option`'s value came from: "command line", "environment LOGSHIP_X", "FILE:LINE",
  // or "" for its default.
  std::string sourceOf(const CLI::Option* option) const;
  // True when the configuration file gave `option` its value (the command line and the environment
  // left it unset).
  bool fromFile(const CLI::Option* option) const { return fileValues_.count(option) > 0; }
  bool fromCommandLine(const CLI::Option* option) const { return sourceOf(option) == "command line"; }
  const std::string& configPath() const { return configPath_; }
  // A usage error found by the program after parsing ("--queue: ...", "--level 'x': ...") about an
  // option whose value came from the file, told as a file error: "FILE:LINE: key 'queue': ...".
  // Other messages: nullopt.
  std::optional<std::string> asFileError(const std::string& message) const;

 private:
  friend Configuration configure(CLI::App&, int, const char* const*, const std::function<ProgramCatalog()>&);
  CLI::App* app_ = nullptr;
  std::vector<CLI::App*> commands_;  // the commands that run (or that --print-config shows)
  std::map<const CLI::Option*, std::string> sources_;
  std::map<const CLI::Option*, const ConfigValue*> fileValues_;
  std::shared_ptr<const ConfigFile> file_;  // fileValues_ point into it
  std::string configPath_;
  bool printRequested_ = false;
};

// Parses the command line into `app` (which has addConfigFlags), then gives each option that the
// command line left unset the value of its environment variable, else the configuration file's
// (--config FILE, else LOGSHIP_CONFIG), else its default. The file is checked against
// `catalog()`, called only when there is a file. Throws CLI::ParseError for the command line (and
// CLI::CallForHelp / CallForVersion), ConfigError for the file, UsageError for an environment value.
Configuration configure(CLI::App& app, int argc, const char* const* argv,
                        const std::function<ProgramCatalog()>& catalog);

}  // namespace logship::cli
