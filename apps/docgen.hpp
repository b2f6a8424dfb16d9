#pragma once
// The documentation generator's model and renderers (gen_docs.cpp builds the model from the
// programs' CLI11 definitions): man pages in roff, docs/CLI.md in Markdown, with the hand-written
// prose sections (docs/man/*.md) merged in.
#include <string>
#include <vector>

namespace logship::docgen {

struct OptionDoc {
  std::string names;     // "-o, --output", or "MESSAGE" for a positional argument
  std::string longName;  // "output" ("" for a positional)
  std::string value;     // placeholder of the value: "TEXT", "SIZE"; "" for a flag
  std::string description;
  std::string defaultValue;
  std::string envName;
  std::string allowed;  // "block, drop", "1 to 65535" ("" when any value of the type)
  std::string group;
  bool flag = false;
  bool positional = false;
  bool repeatable = false;
};

struct CommandDoc {
  std::string name;  // "logctl status"
  std::string description;
  std::string usage;
  std::vector<OptionDoc> options;
  std::vector<std::string> examples;  // from the --help footer: "command  # comment"
  std::vector<CommandDoc> subcommands;
};

// A key of the configuration file (logship.toml(5)): the long option name, its TOML type and the
// tables where it is valid (besides the top level).
struct ConfigKeyDoc {
  std::string key;
  std::string type;
  std::vector<std::string> tables;  // "log_producer", "logctl.status"
  std::string description;
};

struct Section {
  std::string title;  // as written: "Exit status"
  std::string body;   // Markdown
};
std::vector<Section> parseProse(const std::string& markdown);

struct Page {
  std::string name;  // "log_producer", "logship.toml"
  int section = 1;
  CommandDoc command;              // section 1
  std::vector<Section> prose;      // docs/man/<page>.md
  std::vector<ConfigKeyDoc> keys;  // section 5
};

// `date`: the .TH date (YYYY-MM-DD; the build gives it, SOURCE_DATE_EPOCH respected).
std::string renderMan(const Page& page, const std::string& version, const std::string& date);
// `intro`: docs/man/CLI.md, the reference's opening.
std::string renderMarkdown(const std::vector<Page>& pages, const std::string& intro);

}  // namespace logship::docgen
