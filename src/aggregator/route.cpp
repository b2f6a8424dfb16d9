#include "aggregator/route.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/rotated_name.hpp"

namespace logship {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpaces = " \t";
constexpr std::string_view kLevels = "trace, debug, info, warn, error, fatal";
constexpr std::string_view kOperators = "=, !=, >=, >, <=, <";

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(kSpaces);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpaces) - first + 1);
}

bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

struct OperatorSpelling {
  std::string_view text;
  RouteCondition::Op op;
};
// Longest first, so that ">=" is not read as ">" followed by "=...".
constexpr std::array<OperatorSpelling, 6> kOperatorSpellings{{{"!=", RouteCondition::Op::Ne},
                                                              {">=", RouteCondition::Op::Ge},
                                                              {"<=", RouteCondition::Op::Le},
                                                              {"=", RouteCondition::Op::Eq},
                                                              {">", RouteCondition::Op::Gt},
                                                              {"<", RouteCondition::Op::Lt}}};

std::string_view opText(RouteCondition::Op op) {
  for (const auto& s : kOperatorSpellings) {
    if (s.op == op) return s.text;
  }
  return "?";
}

std::string_view keyText(RouteCondition::Key key) {
  switch (key) {
    case RouteCondition::Key::Level: return "level";
    case RouteCondition::Key::Service: return "service";
    case RouteCondition::Key::Host: return "host";
  }
  return "?";
}

[[noreturn]] void fail(std::string_view rule, const std::string& problem) {
  throw UsageError(fmt::format("--route '{}': {}", escaped(rule), problem));
}

RouteCondition parseTerm(std::string_view rule, std::string_view term) {
  RouteCondition c;
  size_t i = 0;
  while (i < term.size() && ((term[i] >= 'a' && term[i] <= 'z') || (term[i] >= 'A' && term[i] <= 'Z') ||
                             term[i] == '_' || term[i] == '-')) {
    ++i;
  }
  const std::string_view key = term.substr(0, i);
  if (key.empty()) {
    fail(rule, fmt::format("condition '{}' does not start with a key (level, service or host)", escaped(term)));
  }
  if (key == "level") {
    c.key = RouteCondition::Key::Level;
  } else if (key == "service") {
    c.key = RouteCondition::Key::Service;
  } else if (key == "host") {
    c.key = RouteCondition::Key::Host;
  } else {
    fail(rule,
         fmt::format("unknown key '{}' in '{}' (the keys are level, service and host)", escaped(key), escaped(term)));
  }
  std::string_view rest = trim(term.substr(i));
  bool found = false;
  for (const auto& s : kOperatorSpellings) {
    if (rest.starts_with(s.text)) {
      c.op = s.op;
      rest.remove_prefix(s.text.size());
      found = true;
      break;
    }
  }
  if (!found) {
    fail(rule, fmt::format("'{}': expected an operator ({}) after '{}'", escaped(term), kOperators, key));
  }
  const std::string_view value = trim(rest);
  if (value.empty()) fail(rule, fmt::format("'{}': no value after '{}'", escaped(term), opText(c.op)));
  if (value.starts_with("=") || value.starts_with("<") || value.starts_with(">") || value.starts_with("!")) {
    fail(rule, fmt::format("'{}': unknown operator (the operators are {})", escaped(term), kOperators));
  }
  if (hasControl(value)) fail(rule, fmt::format("'{}': the value contains a control character", escaped(term)));
  if (c.key == RouteCondition::Key::Level) {
    const auto level = parseLevel(value);
    if (!level) fail(rule, fmt::format("unknown level '{}' (the levels are {})", escaped(value), kLevels));
    c.level = *level;
  } else {
    if (c.op != RouteCondition::Op::Eq && c.op != RouteCondition::Op::Ne) {
      fail(rule, fmt::format("'{}': {} takes = or != (only level is ordered)", escaped(term), key));
    }
    c.value = std::string(value);
    c.glob = value.find_first_of("*?[\\") != std::string_view::npos;
  }
  return c;
}

// The absolute, normalised form of a path, to compare outputs: the existing part resolved
// (symbolic links of directories), the rest lexically.
std::string normalisedPath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) return fs::path(path).lexically_normal().string();
  fs::path canonical = fs::weakly_canonical(p, ec);
  return (ec ? p.lexically_normal() : canonical).string();
}

}  // namespace

bool RouteCondition::matches(const Record& metadata) const {
  if (key == Key::Level) {
    const auto have = static_cast<int>(metadata.level);
    const auto want = static_cast<int>(level);
    switch (op) {
      case Op::Eq: return have == want;
      case Op::Ne: return have != want;
      case Op::Ge: return have >= want;
      case Op::Gt: return have > want;
      case Op::Le: return have <= want;
      case Op::Lt: return have < want;
    }
    return false;
  }
  const std::string& name = key == Key::Service ? metadata.service : metadata.host;
  const bool equal = glob ? ::fnmatch(value.c_str(), name.c_str(), 0) == 0 : name == value;
  return op == Op::Eq ? equal : !equal;
}

std::string RouteCondition::text() const {
  return fmt::format("{}{}{}", keyText(key), opText(op), key == Key::Level ? levelName(level) : value);
}

std::string RouteRule::conditionsText() const {
  std::string out;
  for (const RouteCondition& c : conditions) {
    if (!out.empty()) out += ',';
    out += c.text();
  }
  return out;
}

RouteRule parseRouteRule(std::string_view rule) {
  RouteRule r;
  r.rule = std::string(rule);
  const size_t colon = rule.find(':');
  if (colon == std::string_view::npos) {
    fail(rule,
         "no ':' between the conditions and the file (the form is CONDITIONS:FILE, e.g. level>=error:errors.log)");
  }
  const std::string_view conditions = rule.substr(0, colon);
  const std::string_view file = trim(rule.substr(colon + 1));
  if (trim(conditions).empty()) fail(rule, "no condition before ':' (e.g. level>=error or service=api)");
  if (file.empty()) fail(rule, "no file after ':'");
  if (hasControl(file)) fail(rule, "the file name contains a control character");
  if (file.ends_with(".ids")) {
    fail(rule, fmt::format("'{}': names ending in .ids are the duplicate journals' (and logctl search skips them)",
                           escaped(file)));
  }
  if (splitRotatedName(fs::path(file).filename().string())) {
    fail(rule,
         fmt::format("'{}' is named like a rotated file (NAME.<time>Z): rotation and retention of NAME would take "
                     "it for theirs",
                     escaped(file)));
  }
  r.file = std::string(file);
  size_t start = 0;
  for (;;) {
    const size_t comma = conditions.find(',', start);
    const std::string_view term =
        trim(conditions.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (term.empty()) fail(rule, "an empty condition (two commas, or a comma at the start or the end)");
    r.conditions.push_back(parseTerm(rule, term));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return r;
}

std::vector<RouteRule> parseRoutes(const std::vector<std::string>& rules, const std::string& defaultOutput) {
  std::vector<RouteRule> routes;
  std::vector<std::string> paths;  // normalised: the default output first, then each route's
  paths.push_back(normalisedPath(defaultOutput));
  for (const std::string& text : rules) {
    RouteRule r = parseRouteRule(text);
    if (routes.size() == kMaxRoutes) fail(text, fmt::format("too many routes (at most {})", kMaxRoutes));
    const std::string path = normalisedPath(r.file);
    if (path == paths[0]) {
      fail(text, fmt::format("'{}' is the default output (--output), which gets its records anyway (see "
                             "--unrouted-only)",
                             escaped(r.file)));
    }
    for (size_t i = 1; i < paths.size(); ++i) {
      if (path == paths[i]) {
        fail(text, fmt::format("'{}' is already the file of route '{}': one route per file (a record goes to every "
                               "route it matches)",
                               escaped(r.file), escaped(routes[i - 1].rule)));
      }
    }
    paths.push_back(path);
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace logship
