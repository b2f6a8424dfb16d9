#include "cli/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "core/broker_url.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship::cli {
namespace {

constexpr const char* kConfigEnv = "LOGSHIP_CONFIG";

// Options that are about the run itself, not settings.
bool isRunOption(const std::string& name) {
  return name == "help" || name == "help-all" || name == "version" || name == "config" || name == "print-config";
}

std::string dashed(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

// "UINT:SIZE [b, kb(=1024b), ...]" -> "UINT"
std::string typeBase(const CLI::Option& option) {
  const std::string t = option.get_type_name();
  return t.substr(0, t.find_first_of(": "));
}

bool isJoined(const CLI::Option& option) { return option.get_multi_option_policy() == CLI::MultiOptionPolicy::Join; }

bool isRepeatable(const CLI::Option& option) { return option.get_items_expected_max() > 1; }

std::string expectation(const SettingKind& kind) {
  std::string one;
  std::string many;
  switch (kind.kind) {
    case ValueKind::Flag: return "true or false";
    case ValueKind::Integer:
      one = "an integer";
      many = "integers";
      break;
    case ValueKind::Number:
      one = "a number";
      many = "numbers";
      break;
    case ValueKind::Text:
      one = "a string";
      many = "strings";
      break;
  }
  return kind.list ? fmt::format("{} or an array of {}", one, many) : one;
}

bool accepts(ValueKind kind, ConfigValue::Type type) {
  using T = ConfigValue::Type;
  switch (kind) {
    case ValueKind::Flag: return type == T::Boolean;
    case ValueKind::Integer: return type == T::Integer || type == T::String;  // "256K": options with suffixes
    case ValueKind::Number: return type == T::Integer || type == T::Float || type == T::String;
    case ValueKind::Text: return type == T::String;
  }
  return false;
}

bool accepts(const SettingKind& kind, const ConfigValue& value) {
  if (value.type == ConfigValue::Type::Array) {
    if (!kind.list) return false;
    return std::all_of(value.elementTypes.begin(), value.elementTypes.end(),
                       [&](ConfigValue::Type t) { return accepts(kind.kind, t); });
  }
  return accepts(kind.kind, value.type);
}

const char* typeName(ConfigValue::Type type) {
  switch (type) {
    case ConfigValue::Type::String: return "a string";
    case ConfigValue::Type::Integer: return "an integer";
    case ConfigValue::Type::Float: return "a float";
    case ConfigValue::Type::Boolean: return "a boolean";
    case ConfigValue::Type::Array: return "an array";
    case ConfigValue::Type::Other: break;
  }
  return "a table or date";
}

// "expected true or false, not a string" (with a hint where one helps).
std::string typeMismatch(const std::vector<SettingKind>& kinds, const ConfigValue& value) {
  std::vector<std::string> wanted;
  for (const SettingKind& k : kinds) {
    std::string e = expectation(k);
    if (std::find(wanted.begin(), wanted.end(), e) == wanted.end()) wanted.push_back(std::move(e));
  }
  std::string got = value.typeName;
  ConfigValue::Type offending = value.type;
  if (value.type == ConfigValue::Type::Array &&
      std::any_of(kinds.begin(), kinds.end(), [](const SettingKind& k) { return k.list; })) {
    for (ConfigValue::Type t : value.elementTypes) {
      if (std::none_of(kinds.begin(), kinds.end(), [&](const SettingKind& k) { return accepts(k.kind, t); })) {
        got = fmt::format("an array holding {}", typeName(t));
        offending = t;
        break;
      }
    }
  }
  std::string hint;
  auto wants = [&](ValueKind kind) {
    return std::any_of(kinds.begin(), kinds.end(), [&](const SettingKind& k) { return k.kind == kind; });
  };
  if (offending == ConfigValue::Type::String && wants(ValueKind::Flag)) {
    hint = " (write true or false without quotes)";
  } else if ((offending == ConfigValue::Type::Integer || offending == ConfigValue::Type::Float) &&
             wants(ValueKind::Text)) {
    hint = " (quote it)";
  }
  return fmt::format("expected {}, not {}{}", fmt::join(wanted, " or "), got, hint);
}

std::string errorAt(const std::string& path, int line, const std::string& key, const std::string& what) {
  return fmt::format("{}:{}: key '{}': {}", escaped(path), line, escaped(key), what);
}

std::string readWholeFile(const std::string& path) {
  std::string text;
  if (!readFile(path, text)) throw ConfigError(errnoMessage("cannot read the configuration file", path, errno));
  return text;
}

ConfigValue::Type typeOf(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return ConfigValue::Type::String;
    case toml::node_type::integer: return ConfigValue::Type::Integer;
    case toml::node_type::floating_point: return ConfigValue::Type::Float;
    case toml::node_type::boolean: return ConfigValue::Type::Boolean;
    case toml::node_type::array: return ConfigValue::Type::Array;
    default: return ConfigValue::Type::Other;
  }
}

// A scalar as the command line would give it.
std::string scalarText(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return std::to_string(i->get());
  if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
  return {};
}

int lineOf(const toml::key& key, const toml::node& node) {
  if (key.source().begin.line > 0) return static_cast<int>(key.source().begin.line);
  return static_cast<int>(node.source().begin.line);
}

ConfigValue readValue(const std::string& path, const std::string& key, int line, const toml::node& node) {
  ConfigValue v;
  v.key = key;
  v.line = line;
  v.type = typeOf(node);
  v.typeName = typeName(v.type);
  if (const auto* array = node.as_array()) {
    for (const toml::node& element : *array) {
      const ConfigValue::Type t = typeOf(element);
      if (t == ConfigValue::Type::Array || t == ConfigValue::Type::Other) {
        throw ConfigError(errorAt(path, line, key, "an array may hold only strings, numbers and booleans"));
      }
      v.elementTypes.push_back(t);
      v.texts.push_back(scalarText(element));
    }
  } else if (v.type != ConfigValue::Type::Other) {
    v.texts.push_back(scalarText(node));
  }
  return v;
}

// Kinds of `setting` in one command, or every command of a program, or every program.
void kindsIn(const ProgramCatalog::Command& command, const std::string& setting, std::vector<SettingKind>& out) {
  if (auto it = command.settings.find(setting); it != command.settings.end()) out.push_back(it->second);
}
void kindsIn(const ProgramCatalog::Program& program, const std::string& setting, std::vector<SettingKind>& out) {
  kindsIn(program.main, setting, out);
  for (const auto& [name, sub] : program.subcommands) kindsIn(sub, setting, out);
}

const ProgramCatalog::Program* programNamed(const ProgramCatalog& catalog, const std::string& dashedName,
                                            std::string* name) {
  for (const auto& [n, p] : catalog.programs()) {
    if (dashed(n) == dashedName) {
      if (name != nullptr) *name = n;
      return &p;
    }
  }
  return nullptr;
}

std::string programList(const ProgramCatalog& catalog) {
  std::vector<std::string> names;
  for (const auto& [n, p] : catalog.programs()) names.push_back("[" + n + "]");
  return fmt::format("{}", fmt::join(names, ", "));
}

// A table's keys, checked: unknown keys and types no command takes are errors.
class TableLoader {
 public:
  TableLoader(const std::string& path, std::map<std::string, ConfigValue>& into) : path_(path), into_(into) {}

  void add(const std::string& key, int line, const toml::node& node, const std::vector<SettingKind>& kinds) {
    const std::string setting = dashed(key);
    if (auto it = into_.find(setting); it != into_.end()) {
      throw ConfigError(
          errorAt(path_, line, key,
                  fmt::format("set twice: also as '{}' on line {}", escaped(it->second.key), it->second.line)));
    }
    ConfigValue value = readValue(path_, key, line, node);
    const bool ok = std::any_of(kinds.begin(), kinds.end(), [&](const SettingKind& k) { return accepts(k, value); });
    if (!ok) throw ConfigError(errorAt(path_, line, key, typeMismatch(kinds, value)));
    into_.emplace(setting, std::move(value));
  }

 private:
  const std::string& path_;
  std::map<std::string, ConfigValue>& into_;
};

std::string unknownSetting(const std::string& setting, const std::string& where) {
  if (isRunOption(setting)) return fmt::format("--{} is given on the command line only", setting);
  return fmt::format("{} has no such setting", where);
}

// ---- applying values to options ---------------------------------------------------------------

// CLI11's message about a value, made to read after "key 'NAME': ".
std::string describeCliError(const CLI::Error& e, const CLI::Option& option) {
  std::string msg = e.what();
  const std::string prefix = option.get_name() + ": ";
  if (msg.starts_with(prefix)) msg.erase(0, prefix.size());
  // Ranges (cli::range, cli::byteSize) already say "'0' is too small: at least 1", as on the command line.
  if (msg.starts_with("Could not convert: ")) {
    const std::vector<std::string>& results = option.results();
    return fmt::format("'{}' is not {}", escaped(results.empty() ? "" : results.back()),
                       expectation(SettingKind{settingKind(option).kind, false}));
  }
  return msg;
}

// Gives `option` the values `texts` (as if from the command line) and runs its checks and callback.
template <typename MakeError>
void applyTo(CLI::Option& option, const std::vector<std::string>& texts, MakeError makeError) {
  option.add_result(texts);
  try {
    option.run_callback();
  } catch (const CLI::Error& e) {
    throw makeError(describeCliError(e, option));
  }
}

// Every option's environment variable is looked at after the command line, by configure() (not
// by CLI11, which would give it precedence over the file and apply it to subcommands not run).
class EnvNamesDeferred {
 public:
  explicit EnvNamesDeferred(CLI::App& app) { hide(app); }
  ~EnvNamesDeferred() {
    for (auto& [option, name] : saved_) option->envname(name);
  }
  EnvNamesDeferred(const EnvNamesDeferred&) = delete;
  EnvNamesDeferred& operator=(const EnvNamesDeferred&) = delete;

 private:
  void hide(CLI::App& app) {
    for (CLI::Option* option : app.get_options()) {
      if (!option->get_envname().empty()) {
        saved_.emplace_back(option, option->get_envname());
        option->envname("");
      }
    }
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) hide(*sub);
  }
  std::vector<std::pair<CLI::Option*, std::string>> saved_;
};

// ---- printing -------------------------------------------------------------------------------

std::string tomlString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

bool isIntegerLiteral(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  if (s[i] == '0' && s.size() > i + 1) return false;  // TOML has no leading zeros
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A URL's password -> ***, for every comma-separated URL in `text` (a broker list).
std::string redactPasswords(const std::string& text, bool& redacted) {
  std::string out;
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t scheme = part.find("://");
    const size_t at = part.rfind('@');
    const size_t colon = scheme == std::string::npos ? std::string::npos : part.find(':', scheme + 3);
    if (scheme != std::string::npos && at != std::string::npos && at > scheme && colon != std::string::npos &&
        colon < at) {
      redacted = true;
      std::string masked;
      try {
        const BrokerUrl url = parseBrokerUrl(part);
        if (url.hasPassword) masked = url.redacted();
      } catch (const std::exception&) {  // not a broker URL: mask the user info's password by hand
      }
      part = masked.empty() ? part.substr(0, colon + 1) + "***" + part.substr(at) : masked;
    }
    out += part;
    if (comma == std::string::npos) break;
    out += ',';
    start = comma + 1;
  }
  return out;
}

std::string scalarToml(ValueKind kind, const std::string& text, bool& redacted) {
  switch (kind) {
    case ValueKind::Flag: return text;
    case ValueKind::Integer:
      if (isIntegerLiteral(text)) return text;
      break;
    case ValueKind::Number: {
      if (isIntegerLiteral(text)) return text;
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(d)) {
        if (d == std::floor(d) && std::fabs(d) < 1e15) return fmt::format("{}", static_cast<int64_t>(d));
        const std::string shortest = fmt::format("{}", d);  // "0.5", "1e-05"
        return shortest.find_first_of(".e") == std::string::npos ? shortest + ".0" : shortest;
      }
      break;
    }
    case ValueKind::Text: break;
  }
  return tomlString(redactPasswords(text, redacted));
}

std::string valueToml(const CLI::Option& option, const std::vector<std::string>& texts, bool& redacted) {
  const SettingKind kind = settingKind(option);
  if (kind.kind == ValueKind::Flag) return option.as<bool>() ? "true" : "false";
  std::vector<std::string> items;
  if (isRepeatable(option)) {
    items = texts;
  } else if (isJoined(option) && option.get_delimiter() != '\0' && !texts.empty()) {
    for (const std::string& t : texts) {
      for (size_t start = 0;;) {
        const size_t cut = t.find(option.get_delimiter(), start);
        items.push_back(t.substr(start, cut == std::string::npos ? std::string::npos : cut - start));
        if (cut == std::string::npos) break;
        start = cut + 1;
      }
    }
  } else if (!texts.empty()) {
    items.push_back(texts.back());
  }
  if (!isRepeatable(option) && items.size() == 1) return scalarToml(kind.kind, items.front(), redacted);
  std::vector<std::string> parts;
  parts.reserve(items.size());
  for (const std::string& item : items) parts.push_back(scalarToml(kind.kind, item, redacted));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

}  // namespace

std::string settingName(const CLI::Option& option) {
  const auto& names = option.get_lnames();
  if (names.empty() || isRunOption(names.front())) return {};
  return names.front();
}

SettingKind settingKind(const CLI::Option& option) {
  SettingKind kind;
  if (option.get_items_expected_max() == 0) {  // a flag takes no value on the command line
    kind.kind = ValueKind::Flag;
    return kind;
  }
  const std::string base = typeBase(option);
  if (base == "INT" || base == "UINT") {
    kind.kind = ValueKind::Integer;
  } else if (base == "FLOAT") {
    kind.kind = ValueKind::Number;
  }
  kind.list = isRepeatable(option) || isJoined(option);
  return kind;
}

void ProgramCatalog::add(const CLI::App& app) {
  Program& program = programs_[app.get_name()];
  auto addOptions = [](const CLI::App& command, Command& into) {
    for (const CLI::Option* option : command.get_options()) {
      const std::string name = settingName(*option);
      if (!name.empty()) into.settings[name] = settingKind(*option);
    }
  };
  addOptions(app, program.main);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    addOptions(*sub, program.subcommands[sub->get_name()]);
  }
}

ConfigFile ConfigFile::load(const std::string& path, const ProgramCatalog& catalog) {
  ConfigFile file;
  file.path_ = path;
  const std::string text = readWholeFile(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", escaped(path), at.line, at.column, e.description()));
  }

  TableLoader top(file.path_, file.top_);
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    const int line = lineOf(key, node);
    std::string programName;
    if (const ProgramCatalog::Program* program = programNamed(catalog, dashed(name), &programName)) {
      const toml::table* table = node.as_table();
      if (table == nullptr) {
        throw ConfigError(
            errorAt(path, line, name, fmt::format("names a program: give its settings in a table, [{}]", name)));
      }
      TableLoader own(file.path_, file.programs_[programName]);
      for (auto&& [subKey, subNode] : *table) {
        const std::string subName(subKey.str());
        const int subLine = lineOf(subKey, subNode);
        if (auto sub = program->subcommands.find(dashed(subName)); sub != program->subcommands.end()) {
          const toml::table* subTable = subNode.as_table();
          if (subTable == nullptr) {
            throw ConfigError(errorAt(
                path, subLine, subName,
                fmt::format("names a subcommand: give its settings in a table, [{}.{}]", programName, subName)));
          }
          TableLoader subLoader(file.path_, file.subcommands_[programName][sub->first]);
          for (auto&& [k, v] : *subTable) {
            const std::string s(k.str());
            std::vector<SettingKind> kinds;
            kindsIn(sub->second, dashed(s), kinds);
            if (kinds.empty()) {
              throw ConfigError(errorAt(path, lineOf(k, v), s,
                                        unknownSetting(dashed(s), fmt::format("{} {}", programName, sub->first))));
            }
            subLoader.add(s, lineOf(k, v), v, kinds);
          }
          continue;
        }
        std::vector<SettingKind> kinds;
        kindsIn(*program, dashed(subName), kinds);
        if (kinds.empty())
          throw ConfigError(errorAt(path, subLine, subName, unknownSetting(dashed(subName), programName)));
        own.add(subName, subLine, subNode, kinds);
      }
      continue;
    }
    std::vector<SettingKind> kinds;
    for (const auto& [n, p] : catalog.programs()) kindsIn(p, dashed(name), kinds);
    if (kinds.empty()) {
      if (node.is_table()) {
        throw ConfigError(
            errorAt(path, line, name, fmt::format("no program is called so: the tables are {}", programList(catalog))));
      }
      throw ConfigError(
          errorAt(path, line, name,
                  isRunOption(dashed(name)) ? unknownSetting(dashed(name), "") : "no program has such a setting"));
    }
    top.add(name, line, node, kinds);
  }
  return file;
}

const ConfigValue* ConfigFile::find(const std::string& program, const std::string& subcommand,
                                    const std::string& setting) const {
  if (!subcommand.empty()) {
    if (auto p = subcommands_.find(program); p != subcommands_.end()) {
      if (auto s = p->second.find(subcommand); s != p->second.end()) {
        if (auto v = s->second.find(setting); v != s->second.end()) return &v->second;
      }
    }
  }
  if (auto p = programs_.find(program); p != programs_.end()) {
    if (auto v = p->second.find(setting); v != p->second.end()) return &v->second;
  }
  if (auto v = top_.find(setting); v != top_.end()) return &v->second;
  return nullptr;
}

void addConfigFlags(CLI::App& app) {
  app.add_option("--config",
                 "Read settings from this TOML file (env LOGSHIP_CONFIG); the command line and "
                 "environment variables take precedence")
      ->type_name("FILE");
  app.add_flag("--print-config")
      ->description("Print the effective configuration (command line, environment, file, defaults) as TOML and exit");
  for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return !s->get_name().empty(); })) addConfigFlags(*sub);
}

std::string Configuration::sourceOf(const CLI::Option* option) const {
  auto it = sources_.find(option);
  return it == sources_.end() ? std::string() : it->second;
}

std::optional<std::string> Configuration::asFileError(const std::string& message) const {
  if (!message.starts_with("--")) return std::nullopt;
  size_t end = 2;
  while (end < message.size() && (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '-')) ++end;
  const std::string flag = message.substr(0, end);
  for (const CLI::App* command : commands_) {
    const CLI::Option* option = command->get_option_no_throw(flag);
    if (option == nullptr) continue;
    auto it = fileValues_.find(option);
    if (it == fileValues_.end()) return std::nullopt;
    std::string rest = message.substr(end);
    if (rest.starts_with(":")) rest.erase(0, 1);
    while (rest.starts_with(" ")) rest.erase(0, 1);
    return errorAt(configPath_, it->second->line, it->second->key, rest);
  }
  return std::nullopt;
}

std::string Configuration::toToml() const {
  const std::string program = app_->get_name();
  std::string body;
  bool redacted = false;
  for (CLI::App* command : commands_) {
    std::string table;
    for (const CLI::Option* option : command->get_options()) {
      const std::string name = settingName(*option);
      if (name.empty()) continue;
      const std::string source = sourceOf(option);
      if (option->count() > 0) {
        table += fmt::format("{} = {}  # {}\n", name, valueToml(*option, option->reduced_results(), redacted), source);
      } else if (settingKind(*option).kind == ValueKind::Flag) {
        table += fmt::format("# {} = false  (default)\n", name);
      } else if (!option->get_default_str().empty()) {
        table += fmt::format("# {} = {}  (default)\n", name, valueToml(*option, {option->get_default_str()}, redacted));
      } else {
        table += fmt::format("# {} =  (not set)\n", name);
      }
    }
    if (table.empty()) continue;
    body += fmt::format("\n[{}]\n{}", command == app_ ? program : program + "." + command->get_name(), table);
  }
  std::string head = fmt::format(
      "# {}: the effective configuration (command line > environment > configuration file{} > defaults).\n"
      "# Settings at their default are commented out. Load this file with --config FILE.\n",
      program, configPath_.empty() ? "" : " " + escaped(configPath_));
  if (redacted)
    head += "# Passwords in URLs are shown as ***: give the password with password-file or LOGSHIP_PASSWORD.\n";
  return head + body;
}

Configuration configure(CLI::App& app, int argc, const char* const* argv,
                        const std::function<ProgramCatalog()>& catalog) {
  Configuration config;
  config.app_ = &app;
  {
    EnvNamesDeferred deferred(app);
    app.parse(argc, argv);
  }
  // The commands that run: the program, then the subcommand given (if any).
  std::vector<CLI::App*> chain{&app};
  while (!chain.back()->get_subcommands().empty()) chain.push_back(chain.back()->get_subcommands().front());
  for (CLI::App* command : chain) {
    if (const CLI::Option* o = command->get_option_no_throw("--print-config"); o != nullptr && o->count() > 0) {
      config.printRequested_ = true;
    }
  }
  config.commands_ = chain;
  if (config.printRequested_ && chain.size() == 1) {  // `logctl --print-config`: every subcommand
    for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return !s->get_name().empty(); })) {
      config.commands_.push_back(sub);
    }
  }

  for (CLI::App* command : config.commands_) {
    for (const CLI::Option* option : command->get_options()) {
      if (option->count() > 0) config.sources_[option] = "command line";
    }
  }
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend() && path.empty(); ++it) {
    if (const CLI::Option* o = (*it)->get_option_no_throw("--config"); o != nullptr && o->count() > 0) {
      path = o->as<std::string>();
      if (path.empty()) throw UsageError("--config: give a file name");
    }
  }
  if (path.empty()) {
    if (const char* env = std::getenv(kConfigEnv); env != nullptr) path = env;
  }

  for (CLI::App* command : config.commands_) {
    for (CLI::Option* option : command->get_options()) {
      const std::string& env = option->get_envname();
      if (option->count() > 0 || env.empty()) continue;
      const char* value = std::getenv(env.c_str());
      if (value == nullptr || *value == '\0') continue;
      applyTo(*option, {value}, [&](const std::string& what) {
        return UsageError(fmt::format("{} (from the environment variable {}): {}", option->get_name(), env, what));
      });
      config.sources_[option] = "environment " + env;
    }
  }

  if (!path.empty()) {
    config.configPath_ = path;
    const ProgramCatalog programs = catalog ? catalog() : [&] {
      ProgramCatalog only;
      only.add(app);
      return only;
    }();
    config.file_ = std::make_shared<const ConfigFile>(ConfigFile::load(path, programs));
    const ConfigFile& file = *config.file_;
    for (CLI::App* command : config.commands_) {
      const std::string subcommand = command == &app ? std::string() : command->get_name();
      for (CLI::Option* option : command->get_options()) {
        const std::string name = settingName(*option);
        if (name.empty() || option->count() > 0) continue;
        const ConfigValue* value = file.find(app.get_name(), subcommand, name);
        if (value == nullptr || value->texts.empty()) continue;  // an empty array leaves the default
        const SettingKind kind = settingKind(*option);
        if (!accepts(kind, *value))
          throw ConfigError(errorAt(path, value->line, value->key, typeMismatch({kind}, *value)));
        applyTo(*option, value->texts,
                [&](const std::string& what) { return ConfigError(errorAt(path, value->line, value->key, what)); });
        config.sources_[option] = fmt::format("{}:{}", escaped(path), value->line);
        config.fileValues_[option] = value;
      }
    }
  }
  return config;
}

}  // namespace logship::cli
