#include "docgen.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace logship::docgen {
namespace {

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

const Section* findSection(const std::vector<Section>& prose, const std::string& title) {
  for (const Section& s : prose) {
    if (upper(s.title) == upper(title)) return &s;
  }
  return nullptr;
}

bool isOpening(const Section& s) { return upper(s.title) == "NAME" || upper(s.title) == "DESCRIPTION"; }

// Sections not shown as such: "Option details" is merged into the options (gen_docs.cpp), a
// "logctl SUBCOMMAND" section goes with its subcommand.
bool isMerged(const Page& page, const Section& s) {
  return upper(s.title) == "OPTION DETAILS" || upper(s.title).starts_with(upper(page.name) + " ");
}

// ---- roff ---------------------------------------------------------------------------------------

// One UTF-8 sequence starting at text[i] as groff's \[uXXXX]; advances i past it.
std::string roffUnicode(const std::string& text, size_t& i) {
  const auto c = static_cast<unsigned char>(text[i]);
  const size_t extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  uint32_t code = c & (0x3F >> extra);
  for (size_t k = 1; k <= extra && i + k < text.size(); ++k) code = (code << 6) | (text[i + k] & 0x3F);
  i += extra;
  return fmt::format("\\[u{:04X}]", code);
}

// Text escaped for roff: backslashes, hyphens (as \- so options copy and paste), non-ASCII.
std::string roffEscape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      out += roffUnicode(text, i);
    } else {
      out += c;
    }
  }
  return out;
}

// A line of text that roff must not take for a request.
std::string roffLine(const std::string& escaped) {
  if (!escaped.empty() && (escaped[0] == '.' || escaped[0] == '\'')) return "\\&" + escaped;
  return escaped;
}

// Inline Markdown (`code`, **bold**, [text](link)) in roff.
std::string roffInline(const std::string& text) {
  std::string out;
  bool code = false;
  bool bold = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') {
      code = !code;
      out += code ? "\\fB" : "\\fR";
    } else if (!code && text.compare(i, 2, "**") == 0) {
      bold = !bold;
      out += bold ? "\\fB" : "\\fR";
      ++i;
    } else if (!code && text[i] == '[') {
      const size_t close = text.find("](", i);
      const size_t end = close == std::string::npos ? std::string::npos : text.find(')', close);
      if (end == std::string::npos) {
        out += '[';
        continue;
      }
      out += roffInline(text.substr(i + 1, close - i - 1));
      const std::string target = text.substr(close + 2, end - close - 2);
      if (target.find("://") != std::string::npos) out += " (" + roffEscape(target) + ")";  // not a file of the source
      i = end;
    } else {
      if (static_cast<unsigned char>(text[i]) >= 0x80) {
        out += roffUnicode(text, i);
      } else {
        out += roffEscape(std::string(1, text[i]));
      }
    }
  }
  return out;
}

std::vector<std::string> tableCells(const std::string& row) {
  std::vector<std::string> cells;
  std::string t = trimmed(row);
  if (t.starts_with("|")) t.erase(0, 1);
  if (t.ends_with("|")) t.pop_back();
  std::string cell;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size() && t[i + 1] == '|') {
      cell += '|';
      ++i;
    } else if (t[i] == '|') {
      cells.push_back(trimmed(cell));
      cell.clear();
    } else {
      cell += t[i];
    }
  }
  cells.push_back(trimmed(cell));
  return cells;
}

bool isTableRule(const std::string& line) {
  return line.find("---") != std::string::npos && line.find_first_not_of("|-: ") == std::string::npos;
}

// A Markdown body in roff. `nested`: inside a .SS already, so "###" headings become bold paragraphs.
class RoffWriter {
 public:
  explicit RoffWriter(bool nested) : nested_(nested) {}

  std::string convert(const std::string& body) {
    for (const std::string& line : linesOf(body)) take(line);
    return out_;
  }

 private:
  void take(const std::string& line) {
    if (!trimmed(line).starts_with("|")) table_ = false;
    if (trimmed(line).starts_with("```")) {
      out_ += code_ ? ".fi\n.RE\n" : ".PP\n.RS 4\n.nf\n";
      code_ = !code_;
      paragraph_ = false;
    } else if (code_) {
      out_ += roffLine(roffEscape(line)) + "\n";
    } else if (trimmed(line).empty()) {
      paragraph_ = false;
    } else if (line.starts_with("### ")) {
      out_ += nested_ ? fmt::format(".PP\n.B \"{}\"\n", roffEscape(line.substr(4)))
                      : fmt::format(".SS \"{}\"\n", roffEscape(line.substr(4)));
      paragraph_ = false;
    } else if (line.starts_with("- ")) {
      out_ += ".IP \\(bu 2\n" + roffLine(roffInline(line.substr(2))) + "\n";
      paragraph_ = true;
    } else if (line.starts_with("  - ")) {  // an item of a list inside a list item
      out_ += ".IP \\(en 4\n" + roffLine(roffInline(line.substr(4))) + "\n";
      paragraph_ = true;
    } else if (trimmed(line).starts_with("|")) {
      if (table_) tableRow(line);  // the first row is the header: the tagged paragraphs need none
      table_ = true;
      return;
    } else {
      if (!paragraph_) out_ += ".PP\n";
      out_ += roffLine(roffInline(trimmed(line))) + "\n";
      paragraph_ = true;
    }
  }

  // A table row as a tagged paragraph: the first cell, then the others.
  void tableRow(const std::string& line) {
    if (isTableRule(line)) return;
    const std::vector<std::string> cells = tableCells(line);
    out_ += ".TP\n" + roffLine(roffInline(cells.front())) + "\n";
    std::vector<std::string> rest(cells.begin() + 1, cells.end());
    out_ += roffLine(roffInline(fmt::format("{}", fmt::join(rest, "; ")))) + "\n";
    paragraph_ = true;
  }

  bool nested_;
  bool code_ = false;
  bool paragraph_ = false;
  bool table_ = false;  // inside a table, past its header row
  std::string out_;
};

std::string roffProse(const std::string& body, bool nested) { return RoffWriter(nested).convert(body); }

std::string roffCode(const std::vector<std::string>& lines) {
  std::string out = ".PP\n.RS 4\n.nf\n";
  for (const std::string& line : lines) out += roffLine(roffEscape(line)) + "\n";
  return out + ".fi\n.RE\n";
}

// What follows an option's description: its default, values, environment variable.
std::vector<std::string> optionNotes(const OptionDoc& o) {
  std::vector<std::string> notes;
  if (!o.allowed.empty()) notes.push_back(fmt::format("Values: {}.", o.allowed));
  if (!o.defaultValue.empty()) notes.push_back(fmt::format("Default: `{}`.", o.defaultValue));
  if (!o.envName.empty()) notes.push_back(fmt::format("Environment: `{}`.", o.envName));
  if (o.repeatable) notes.push_back("Repeatable.");
  return notes;
}

std::string sentence(std::string text) {
  if (!text.empty() && text.back() != '.') text += '.';
  return text;
}

std::string roffOption(const OptionDoc& o) {
  std::string head =
      o.positional ? fmt::format("\\fI{}\\fR", roffEscape(o.names)) : fmt::format("\\fB{}\\fR", roffEscape(o.names));
  if (!o.value.empty() && !o.positional) head += fmt::format(" \\fI{}\\fR", roffEscape(o.value));
  std::string text = sentence(o.description);
  for (const std::string& note : optionNotes(o)) text += " " + note;
  return fmt::format(".TP\n{}\n{}\n", roffLine(head), roffLine(roffInline(text)));
}

std::string roffOptions(const std::vector<OptionDoc>& options) {
  std::string out;
  std::string group;
  const bool grouped =
      std::any_of(options.begin(), options.end(), [&](const OptionDoc& o) { return o.group != options.front().group; });
  for (const OptionDoc& o : options) {
    if (grouped && o.group != group) {
      group = o.group;
      out += fmt::format(".PP\n.B \"{}\"\n", roffEscape(group));
    }
    out += roffOption(o);
  }
  return out;
}

std::string roffCommands(const Page& page) {
  std::string out = ".SH COMMANDS\n";
  for (const CommandDoc& sub : page.command.subcommands) {
    out += fmt::format(".SS \"{}\"\n", roffEscape(sub.name));
    out += ".PP\n" + roffLine(roffInline(sentence(sub.description))) + "\n";
    out += ".PP\nUsage: \\fB" + roffEscape(sub.usage) + "\\fR\n";
    out += roffOptions(sub.options);
    if (const Section* s = findSection(page.prose, sub.name)) out += roffProse(s->body, true);
  }
  return out;
}

std::vector<std::string> allExamples(const CommandDoc& command) {
  std::vector<std::string> lines = command.examples;
  for (const CommandDoc& sub : command.subcommands) {
    for (const std::string& e : sub.examples) {
      if (std::find(lines.begin(), lines.end(), e) == lines.end()) lines.push_back(e);
    }
  }
  return lines;
}

// An "Examples" section without examples of its own gets those of --help.
bool wantsFooterExamples(const Page& page, const Section& s) {
  return upper(s.title) == "EXAMPLES" && page.section == 1 && s.body.find("```") == std::string::npos;
}

std::string roffKeys(const std::vector<ConfigKeyDoc>& keys) {
  std::string out = ".SH KEYS\n";
  for (const ConfigKeyDoc& k : keys) {
    out += fmt::format(".TP\n\\fB{}\\fR ({})\n", roffEscape(k.key), roffEscape(k.type));
    out +=
        roffLine(roffInline(fmt::format("{} Tables: {}.", sentence(k.description), fmt::join(k.tables, ", ")))) + "\n";
  }
  return out;
}

std::string roffGenerated(const Page& page) {
  if (page.section == 5) return roffKeys(page.keys);
  std::string out = ".SH OPTIONS\n" + roffOptions(page.command.options);
  if (!page.command.subcommands.empty()) out += roffCommands(page);
  return out;
}

std::string roffSection(const Page& page, const Section& s) {
  std::string out = fmt::format(".SH \"{}\"\n", roffEscape(upper(s.title)));
  out += roffProse(s.body, false);
  if (wantsFooterExamples(page, s)) out += roffCode(allExamples(page.command));
  return out;
}

// A heading starts a paragraph by itself: a .PP right after .SH or .SS is one mandoc warns about.
std::string withoutParagraphsAfterHeadings(const std::string& roff) {
  std::string out;
  std::string previous;
  for (const std::string& line : linesOf(roff)) {
    if (line == ".PP" && (previous.starts_with(".SH") || previous.starts_with(".SS"))) continue;
    out += line + "\n";
    previous = line;
  }
  return out;
}

std::string roffSynopsis(const CommandDoc& command) {
  std::string out = ".SH SYNOPSIS\n.nf\n";
  if (command.subcommands.empty()) out += roffEscape(command.usage) + "\n";
  for (const CommandDoc& sub : command.subcommands) out += roffEscape(sub.usage) + "\n";
  return out + ".fi\n";
}

// ---- Markdown -------------------------------------------------------------------------------------

std::string mdCell(const std::string& text) {
  std::string out;
  bool code = false;
  for (char c : text) {
    if (c == '`') code = !code;
    if (c == '|') {
      out += "\\|";
    } else if (!code && (c == '<' || c == '>')) {
      out += c == '<' ? "&lt;" : "&gt;";
    } else if (!code && c == '*') {
      out += "\\*";
    } else {
      out += c;
    }
  }
  return out;
}

std::string mdCode(const std::vector<std::string>& lines) {
  return fmt::format("```\n{}\n```\n", fmt::join(lines, "\n"));
}

// Prose headings one level down: "### X" -> "#### X" (a page's sections are ### in CLI.md).
std::string mdShifted(const std::string& body, int levels) {
  std::string out;
  bool code = false;
  for (const std::string& line : linesOf(body)) {
    if (trimmed(line).starts_with("```")) code = !code;
    out += (!code && line.starts_with("#") ? std::string(static_cast<size_t>(levels), '#') : "") + line + "\n";
  }
  return out;
}

std::string mdOptions(const std::vector<OptionDoc>& options) {
  std::string out = "| Option | Description |\n|---|---|\n";
  for (const OptionDoc& o : options) {
    std::string name = o.names + (o.value.empty() || o.positional ? "" : " " + o.value);
    std::string text = mdCell(sentence(o.description));
    for (const std::string& note : optionNotes(o)) text += " " + mdCell(note);
    out += fmt::format("| `{}` | {} |\n", name, text);
  }
  return out;
}

std::string mdCommand(const CommandDoc& c, const std::vector<Section>& prose, const std::string& level) {
  std::string out = fmt::format("{} {}\n\n{}\n\n", level, c.name, sentence(c.description));
  out += mdCode({c.usage}) + "\n" + mdOptions(c.options) + "\n";
  if (const Section* s = findSection(prose, c.name)) out += mdShifted(s->body, 1) + "\n";
  return out;
}

std::string mdKeys(const std::vector<ConfigKeyDoc>& keys) {
  std::string out = "### Keys\n\n| Key | Type | Tables |\n|---|---|---|\n";
  for (const ConfigKeyDoc& k : keys)
    out += fmt::format("| `{}` | {} | {} |\n", k.key, k.type, fmt::join(k.tables, ", "));
  return out + "\n";
}

std::string mdPage(const Page& page) {
  std::string out = fmt::format("## {}\n\n", page.name);
  if (const Section* d = findSection(page.prose, "Description")) out += mdShifted(d->body, 1) + "\n";
  if (page.section == 5) {
    out += mdKeys(page.keys);
  } else {
    out +=
        "### Usage\n\n" + mdCode({page.command.usage}) + "\n### Options\n\n" + mdOptions(page.command.options) + "\n";
    for (const CommandDoc& sub : page.command.subcommands) out += mdCommand(sub, page.prose, "###");
  }
  for (const Section& s : page.prose) {
    const std::string t = upper(s.title);
    if (isOpening(s) || t == "SEE ALSO" || isMerged(page, s)) continue;
    out += fmt::format("### {}\n\n{}\n", s.title, mdShifted(s.body, 1));
    if (wantsFooterExamples(page, s)) out += mdCode(allExamples(page.command)) + "\n";
  }
  return out;
}

}  // namespace

std::vector<Section> parseProse(const std::string& markdown) {
  std::vector<Section> sections;
  bool code = false;
  for (const std::string& line : linesOf(markdown)) {
    if (trimmed(line).starts_with("```")) code = !code;
    if (!code && line.starts_with("## ")) {
      sections.push_back(Section{trimmed(line.substr(3)), {}});
    } else if (!sections.empty()) {
      sections.back().body += line + "\n";
    }
  }
  for (Section& s : sections) {
    s.body.erase(0,
                 s.body.find_first_not_of('\n') == std::string::npos ? s.body.size() : s.body.find_first_not_of('\n'));
    while (s.body.ends_with("\n\n")) s.body.pop_back();
  }
  return sections;
}

std::string renderMan(const Page& page, const std::string& version, const std::string& date) {
  std::string out =
      fmt::format(".\\\" Generated by logship_gendocs from apps/programs.cpp and docs/man/{}.md.\n", page.name);
  out += fmt::format(".TH \"{}\" {} \"{}\" \"logship {}\" \"Logship Manual\"\n.ad l\n.nh\n", upper(page.name),
                     page.section, date, version);
  for (const Section& s : page.prose) {
    if (isOpening(s)) out += roffSection(page, s);
    if (upper(s.title) == "NAME" && page.section == 1) out += roffSynopsis(page.command);
  }
  out += roffGenerated(page);
  for (const Section& s : page.prose) {
    if (!isOpening(s) && !isMerged(page, s)) out += roffSection(page, s);
  }
  return withoutParagraphsAfterHeadings(out);
}

std::string renderMarkdown(const std::vector<Page>& pages, const std::string& intro) {
  std::string out =
      "<!-- Generated by logship_gendocs from apps/programs.cpp and docs/man/*.md: do not edit. Regenerate with\n"
      "     `cmake --build build --target logship_docs && cp build/docs/CLI.md docs/CLI.md`. -->\n";
  out += intro;
  if (!out.ends_with("\n\n")) out += "\n";
  for (const Page& page : pages) out += mdPage(page);
  while (out.ends_with("\n\n")) out.pop_back();
  return out;
}

}  // namespace logship::docgen
