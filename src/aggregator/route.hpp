#pragma once
// Routing rules (log_aggregator --route CONDITIONS:FILE): which records go to which file besides
// (or, with --unrouted-only, instead of) the default output. Pure logic: parsing and matching.
// The syntax and the semantics are documented in docs/CLI.md#routing-records-to-files.
//
//   RULE       = CONDITIONS ":" FILE            split at the first ':'
//   CONDITIONS = TERM { "," TERM }              every term must hold
//   TERM       = "level" OP LEVEL               OP: = != >= > <= <   (trace < debug < info < warn < error < fatal)
//              | ("service" | "host") ("=" | "!=") NAME      NAME may be a glob (fnmatch: * ? [...])
//
// Spaces and tabs around terms, keys, operators, values and FILE are ignored; a value keeps the
// spaces inside it. A value holds no ',' or ':' (use '?' in a glob to match one), no control
// character, and is not empty.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/level.hpp"
#include "core/record.hpp"

namespace logship {

struct RouteCondition {
  enum class Key { Level, Service, Host };
  enum class Op { Eq, Ne, Ge, Gt, Le, Lt };
  Key key = Key::Level;
  Op op = Op::Eq;
  Level level = Level::Info;  // Key::Level
  std::string value;          // Key::Service, Key::Host: a name, or a glob
  bool glob = false;          // value holds * ? [ or \ : matched with fnmatch

  // On a record's metadata (level, service, host).
  bool matches(const Record& metadata) const;
  // "level>=error", "service=api-*": the canonical form (no spaces, canonical level names).
  std::string text() const;
};

struct RouteRule {
  std::string rule;  // as given
  std::vector<RouteCondition> conditions;
  std::string file;  // as given (relative to the working directory, like --output)

  // All conditions hold for a record with this metadata.
  bool matches(const Record& metadata) const {
    for (const RouteCondition& c : conditions) {
      if (!c.matches(metadata)) return false;
    }
    return true;
  }
  // The conditions in canonical form, comma-separated: "level>=error,service=api".
  std::string conditionsText() const;
};

// At most this many routes (each is a file, a duplicate journal and, when rotating, a thread).
constexpr size_t kMaxRoutes = 32;

// Parses one rule. Throws UsageError "--route 'RULE': <the problem>".
RouteRule parseRouteRule(std::string_view rule);

// Parses every rule and checks them together against the default output `defaultOutput`: no two
// routes to one file, no route to the default output or to a duplicate journal's name (*.ids),
// at most kMaxRoutes. Files are compared by their absolute, normalised paths (symbolic links of
// existing directories resolved). Throws UsageError "--route 'RULE': ...".
std::vector<RouteRule> parseRoutes(const std::vector<std::string>& rules, const std::string& defaultOutput);

}  // namespace logship
