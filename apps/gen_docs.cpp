// logship_gendocs: writes the man pages log_producer(1), log_aggregator(1), logctl(1), logship.toml(5)
// and docs/CLI.md from the programs' CLI11 definitions (programs.cpp, the one source of every flag)
// and the hand-written prose beside them (docs/man/<program>.md). Run by the build (apps/CMakeLists.txt);
// tests/check_cli_doc.py compares its docs/CLI.md with the committed one.
//
// Usage: logship_gendocs --prose DIR [--man DIR] [--markdown FILE]
//
// A prose file is Markdown: "## Title" sections ("### Title" inside them), paragraphs, "- " lists,
// ``` blocks, `code`, **bold**, [text](link). "## Name" and "## Description" open the page; the
// generated SYNOPSIS and OPTIONS follow them; the other sections come after, in the file's order. In
// logctl.md a section titled "logctl SUBCOMMAND" goes with that subcommand.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/common.hpp"
#include "docgen.hpp"
#include "programs.hpp"

using namespace logship;
using namespace logship::docgen;

namespace {

// "UINT:INT in [1 - 65535]" -> ("UINT", "INT in [1 - 65535]"); "TEXT:{block,drop}" -> ("TEXT", "{block,drop}").
std::pair<std::string, std::string> splitType(const std::string& typeName) {
  const size_t colon = typeName.find(':');
  if (colon == std::string::npos) return {typeName, ""};
  return {typeName.substr(0, colon), typeName.substr(colon + 1)};
}

std::string allowedValues(const std::string& check) {
  if (check.empty()) return {};
  if (check.front() == '{' && check.back() == '}') {
    std::string values = check.substr(1, check.size() - 2);
    for (size_t at = values.find(','); at != std::string::npos; at = values.find(',', at + 2))
      values.insert(at + 1, " ");
    return values;
  }
  const size_t in = check.find(" in [");
  if (in != std::string::npos && check.back() == ']') {
    std::string range = check.substr(in + 5, check.size() - in - 6);
    const size_t dash = range.find(" - ");
    if (dash != std::string::npos) range.replace(dash, 3, " to ");
    return range;
  }
  return {};
}

OptionDoc describe(const CLI::Option& option) {
  OptionDoc doc;
  doc.positional = option.get_lnames().empty() && option.get_snames().empty();
  std::vector<std::string> names;
  for (const std::string& s : option.get_snames()) names.push_back("-" + s);
  for (const std::string& l : option.get_lnames()) names.push_back("--" + l);
  doc.names = doc.positional ? option.get_name() : fmt::format("{}", fmt::join(names, ", "));
  doc.longName = option.get_lnames().empty() ? "" : option.get_lnames().front();
  doc.flag = option.get_items_expected_max() == 0;
  if (!doc.flag) {
    auto [base, check] = splitType(option.get_type_name());
    doc.value = doc.positional ? option.get_name() : base;
    doc.allowed = allowedValues(check);
  }
  doc.repeatable = option.get_items_expected_max() > 1;
  doc.description = option.get_description();
  doc.defaultValue = option.get_default_str();
  // log_producer --host defaults to this machine's name (its description says so): the generated
  // pages are the same on every machine.
  if (doc.defaultValue == apps::localHostName()) doc.defaultValue.clear();
  doc.envName = option.get_envname();
  doc.group = option.get_group();
  return doc;
}

// The "  command  # comment" lines of a footer's "Examples:" block.
std::vector<std::string> footerExamples(const std::string& footer) {
  std::vector<std::string> lines;
  std::istringstream in(footer);
  bool inExamples = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "Examples:") {
      inExamples = true;
    } else if (inExamples && line.starts_with("  ")) {
      lines.push_back(line.substr(2));
    } else {
      inExamples = false;
    }
  }
  return lines;
}

std::string usageOf(const CLI::App& app, const std::string& fullName) {
  std::string usage = fullName + " [OPTIONS]";
  for (const CLI::Option* option : app.get_options()) {
    if (!option->get_lnames().empty() || !option->get_snames().empty()) continue;
    usage += option->get_items_expected_max() > 1 ? fmt::format(" [{}...]", option->get_name())
                                                  : fmt::format(" [{}]", option->get_name());
  }
  return usage;
}

CommandDoc describe(const CLI::App& app, const std::string& parent) {
  CommandDoc doc;
  doc.name = parent.empty() ? app.get_name() : parent + " " + app.get_name();
  doc.description = app.get_description();
  doc.examples = footerExamples(app.get_footer());
  doc.usage = usageOf(app, doc.name);
  for (const CLI::Option* option : app.get_options()) doc.options.push_back(describe(*option));
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    doc.subcommands.push_back(describe(*sub, doc.name));
    doc.usage = fmt::format("{} [OPTIONS] SUBCOMMAND [OPTIONS]", doc.name);
  }
  return doc;
}

template <typename Settings, typename Define>
CommandDoc describeProgram(Define define) {
  CLI::App app;
  Settings settings;
  define(app, settings);
  cli::completeDefinition(app);
  return describe(app, "");
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

const char* tomlType(cli::ValueKind kind) {
  switch (kind) {
    case cli::ValueKind::Flag: return "boolean";
    case cli::ValueKind::Integer: return "integer";
    case cli::ValueKind::Number: return "number";
    case cli::ValueKind::Text: return "string";
  }
  return "string";
}

void addKeys(const cli::ProgramCatalog::Command& command, const std::string& table, std::vector<ConfigKeyDoc>& keys) {
  for (const auto& [name, kind] : command.settings) {
    auto it = std::find_if(keys.begin(), keys.end(), [&](const ConfigKeyDoc& k) { return k.key == name; });
    if (it == keys.end()) {
      ConfigKeyDoc key;
      key.key = name;
      key.type = tomlType(kind.kind);
      if (kind.list) key.type += " or array";
      keys.push_back(key);
      it = keys.end() - 1;
    }
    it->tables.push_back(table);
  }
}

// Every key a configuration file accepts (the loader's catalog, built from the same definitions).
std::vector<ConfigKeyDoc> configKeys() {
  std::vector<ConfigKeyDoc> keys;
  const cli::ProgramCatalog catalog = apps::programCatalog();
  for (const auto& [program, p] : catalog.programs()) {
    addKeys(p.main, program, keys);
    for (const auto& [sub, command] : p.subcommands) addKeys(command, program + "." + sub, keys);
  }
  std::sort(keys.begin(), keys.end(), [](const ConfigKeyDoc& a, const ConfigKeyDoc& b) { return a.key < b.key; });
  return keys;
}

// Each key's description: its option's, from the first program that has it.
void describeKeys(std::vector<ConfigKeyDoc>& keys, const std::vector<Page>& pages) {
  for (ConfigKeyDoc& key : keys) {
    for (const Page& page : pages) {
      std::vector<const CommandDoc*> commands{&page.command};
      for (const CommandDoc& sub : page.command.subcommands) commands.push_back(&sub);
      for (const CommandDoc* command : commands) {
        for (const OptionDoc& o : command->options) {
          if (key.description.empty() && o.longName == key.key) key.description = o.description;
        }
      }
    }
  }
}

// "- `--flag`: text" (or "- `SUBCOMMAND --flag`: text"), continued on indented lines: the items of
// the prose's "Option details" section, each added to its option's description in the man page and
// docs/CLI.md (not to --help). An item naming no option is an error: a renamed flag fails the build.
std::vector<std::pair<std::string, std::string>> optionDetails(const std::vector<Section>& prose) {
  std::vector<std::pair<std::string, std::string>> items;
  for (const Section& section : prose) {
    if (section.title != "Option details") continue;
    std::istringstream in(section.body);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("- `")) {
        const size_t close = line.find("`: ", 3);
        if (close == std::string::npos) throw std::runtime_error("Option details: no \"`: \" in: " + line);
        items.emplace_back(line.substr(3, close - 3), line.substr(close + 3));
      } else if (line.starts_with("  ") && !items.empty()) {
        items.back().second += " " + line.substr(line.find_first_not_of(' '));
      }
    }
  }
  return items;
}

OptionDoc* findOption(CommandDoc& command, const std::string& name) {
  for (OptionDoc& o : command.options) {
    for (size_t at = 0; at < o.names.size();) {
      const size_t end = std::min(o.names.find(", ", at), o.names.size());
      if (o.names.compare(at, end - at, name) == 0) return &o;
      at = end + 2;
    }
  }
  return nullptr;
}

void addDetail(OptionDoc& option, const std::string& text) {
  if (!option.description.empty() && option.description.back() != '.') option.description += '.';
  option.description += " " + text;
}

// docs/man/common.md: details of the options several commands share (the broker flags), added to
// every command that has the option.
void addCommonDetails(std::vector<CommandDoc*> commands, const std::vector<Section>& prose) {
  for (const auto& [flag, text] : optionDetails(prose)) {
    bool found = false;
    for (CommandDoc* command : commands) {
      if (OptionDoc* option = findOption(*command, flag)) {
        addDetail(*option, text);
        found = true;
      }
    }
    if (!found) throw std::runtime_error("common.md: Option details: no command has the option " + flag);
  }
}

void addOptionDetails(CommandDoc& program, const std::vector<Section>& prose) {
  for (const auto& [who, text] : optionDetails(prose)) {
    CommandDoc* command = &program;
    std::string flag = who;
    if (const size_t space = who.find(' '); space != std::string::npos) {
      auto sub = std::find_if(program.subcommands.begin(), program.subcommands.end(),
                              [&](const CommandDoc& c) { return c.name == program.name + " " + who.substr(0, space); });
      command = sub == program.subcommands.end() ? nullptr : &*sub;
      flag = who.substr(space + 1);
    }
    OptionDoc* option = command == nullptr ? nullptr : findOption(*command, flag);
    if (option == nullptr) throw std::runtime_error(fmt::format("{}: Option details: no option {}", program.name, who));
    addDetail(*option, text);
  }
}

struct Arguments {
  std::string prose;
  std::string manDir;
  std::string markdown;
  std::string date;
};

Arguments parseArguments(int argc, char** argv) {
  Arguments a;
  CLI::App app("Writes the man pages and docs/CLI.md from the programs' definitions", "logship_gendocs");
  app.add_option("--prose", a.prose, "Directory of the hand-written sections (docs/man)")->required();
  app.add_option("--man", a.manDir, "Directory to write the man pages to");
  app.add_option("--date", a.date, "Date of the man pages (YYYY-MM-DD)");
  app.add_option("--markdown", a.markdown, "File to write the Markdown reference to (docs/CLI.md)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments args = parseArguments(argc, argv);
  try {
    std::vector<Page> pages;
    for (CommandDoc command : {describeProgram<apps::ProducerSettings>(apps::defineProducer),
                               describeProgram<apps::AggregatorSettings>(apps::defineAggregator),
                               describeProgram<apps::LogctlSettings>(apps::defineLogctl)}) {
      const std::string name = command.name;
      std::vector<Section> prose = parseProse(readText(args.prose + "/" + name + ".md"));
      addOptionDetails(command, prose);
      pages.push_back(Page{name, 1, std::move(command), std::move(prose), {}});
    }
    std::vector<CommandDoc*> commands;
    for (Page& page : pages) {
      commands.push_back(&page.command);
      for (CommandDoc& sub : page.command.subcommands) commands.push_back(&sub);
    }
    addCommonDetails(commands, parseProse(readText(args.prose + "/common.md")));
    std::vector<ConfigKeyDoc> keys = configKeys();
    describeKeys(keys, pages);
    pages.push_back(Page{"logship.toml", 5, {}, parseProse(readText(args.prose + "/logship.toml.md")), keys});
    if (!args.manDir.empty()) {
      for (const Page& page : pages) {
        writeText(fmt::format("{}/{}.{}", args.manDir, page.name, page.section),
                  renderMan(page, cli::version(), args.date));
      }
    }
    if (!args.markdown.empty()) writeText(args.markdown, renderMarkdown(pages, readText(args.prose + "/CLI.md")));
  } catch (const std::exception& e) {
    std::cerr << "logship_gendocs: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
