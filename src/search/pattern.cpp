#include "search/pattern.hpp"

#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::search {
namespace {

constexpr std::string_view kOperators = ".[]()*+?{}|^$\\";

bool isQuantifier(char c) { return c == '*' || c == '+' || c == '?' || c == '{'; }

}  // namespace

bool isPlainLiteral(std::string_view ere) {
  return !ere.empty() && ere.find_first_of(kOperators) == std::string_view::npos;
}

std::string requiredLiteral(std::string_view ere) {
  // Runs of literal characters at depth 0. A top-level '|' makes every run optional.
  std::string best, run;
  int depth = 0;
  auto endRun = [&] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  for (size_t i = 0; i < ere.size(); ++i) {
    const char c = ere[i];
    const bool quantified = i + 1 < ere.size() && isQuantifier(ere[i + 1]);
    if (c == '(') {
      ++depth;
      endRun();
    } else if (c == ')') {
      if (depth > 0) --depth;
      endRun();
    } else if (c == '|') {
      if (depth == 0) return "";
    } else if (depth > 0) {
      if (c == '\\')
        ++i;  // an escaped ')' must not close the group
      else if (c == '[') {
        // Skip a bracket expression: ']' right after '[' or '[^' is a member.
        size_t j = i + 1;
        if (j < ere.size() && ere[j] == '^') ++j;
        if (j < ere.size() && ere[j] == ']') ++j;
        while (j < ere.size() && ere[j] != ']') ++j;
        i = j;
      }
    } else if (c == '[') {
      endRun();
      size_t j = i + 1;
      if (j < ere.size() && ere[j] == '^') ++j;
      if (j < ere.size() && ere[j] == ']') ++j;
      while (j < ere.size() && ere[j] != ']') ++j;
      i = j;
    } else if (c == '\\' && i + 1 < ere.size()) {
      const char e = ere[i + 1];
      const bool escapedLiteral = kOperators.find(e) != std::string_view::npos;
      const bool quantifiedEscape = i + 2 < ere.size() && isQuantifier(ere[i + 2]);
      if (escapedLiteral && !quantifiedEscape) {
        run += e;
      } else {
        endRun();  // \w, \b, ... or an optional character
      }
      ++i;
    } else if (kOperators.find(c) != std::string_view::npos || quantified) {
      // . ^ $ and quantifiers (whose character was already left out); "ab?" needs only "a"
      endRun();
    } else {
      run += c;
    }
  }
  endRun();
  return best;
}

Pattern::Pattern(const std::string& ere) {
  const int rc = regcomp(&regex_, ere.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char reason[256] = {};
    regerror(rc, &regex_, reason, sizeof reason);
    throw UsageError(fmt::format("--grep: '{}' is not a valid extended regular expression: {}", escaped(ere), reason));
  }
  literalOnly_ = isPlainLiteral(ere);
  literal_ = literalOnly_ ? ere : requiredLiteral(ere);
  if (literal_.find('\n') != std::string::npos) {  // no line holds one; let the regex say no
    literal_.clear();
    literalOnly_ = false;
  }
}

Pattern::~Pattern() { regfree(&regex_); }

bool Pattern::matches(std::string_view line) const {
  if (!literal_.empty() && memmem(line.data(), line.size(), literal_.data(), literal_.size()) == nullptr) {
    return false;
  }
  return matchesContainingLiteral(line);
}

bool Pattern::matchesContainingLiteral(std::string_view line) const {
  if (literalOnly_) return true;
  // REG_STARTEND (glibc, BSD): match within [so, eo) without a terminating NUL, so lines are not copied.
  regmatch_t range[1];
  range[0].rm_so = 0;
  range[0].rm_eo = static_cast<regoff_t>(line.size());
  return regexec(&regex_, line.data(), 1, range, REG_STARTEND) == 0;
}

}  // namespace logship::search
