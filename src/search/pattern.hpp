#pragma once
#include <regex.h>

#include <string>
#include <string_view>

namespace logship::search {

// The longest run of bytes that every match of the POSIX extended regular expression `ere` must
// contain, found conservatively (literal characters outside groups and brackets, none that a
// quantifier makes optional; nothing when the expression has a top-level '|'). "" if none.
std::string requiredLiteral(std::string_view ere);

// True if `ere` is nothing but literal characters (no operator at all), so memmem can decide alone.
bool isPlainLiteral(std::string_view ere);

// A --grep pattern: a POSIX extended regular expression (as `grep -E`), matched against bytes (the
// C locale). A literal that every match must contain is looked for first with memmem, so most
// lines never reach the regex engine; a pattern that is only a literal never does.
class Pattern {
 public:
  // Throws UsageError with the regex library's reason.
  explicit Pattern(const std::string& ere);
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
  ~Pattern();

  bool matches(std::string_view line) const;
  // The same, for a line already known to contain literal() (a scanner that looked for the literal
  // across many lines at once).
  bool matchesContainingLiteral(std::string_view line) const;
  // Bytes that every match contains ("" if none is known); never holds a '\n'.
  const std::string& literal() const { return literal_; }

 private:
  std::string literal_;
  bool literalOnly_ = false;
  regex_t regex_{};
};

}  // namespace logship::search
