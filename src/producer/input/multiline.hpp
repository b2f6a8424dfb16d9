#pragma once
// Multiline records (docs/CLI.md, "Multiline records"): the lines of a stack trace joined into one
// record. Pure logic, shared by stdin and every followed file (one LineJoiner per file).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace logship {

// Which lines start a record; the others continue the record before them.
class MultilineRule {
 public:
  enum class Mode {
    Off,       // every line is a record
    Start,     // --multiline-start REGEX: a line that matches starts a record
    Indented,  // --multiline-indented: a line that starts with a space or tab, or with "Caused by:"
               // (Java's chained exceptions), continues the record before it
  };
  MultilineRule() = default;  // Off
  // A POSIX extended regular expression (as grep -E), matched anywhere in the line unless anchored.
  // Throws UsageError naming `flag` when it does not compile.
  static MultilineRule startingWith(const std::string& ere, std::string_view flag = "--multiline-start");
  static MultilineRule indented();

  Mode mode() const { return mode_; }
  // True if `line` (not empty) starts a record. Always true when Off.
  bool startsRecord(std::string_view line) const;

 private:
  struct Regex;
  Mode mode_ = Mode::Off;
  std::shared_ptr<const Regex> regex_;  // shared: one compiled expression for every file
};

struct MultilineOptions {
  MultilineRule rule;
  size_t maxLines = 500;                    // --multiline-max-lines
  size_t maxBytes = 1024 * 1024;            // --max-message-bytes
  std::chrono::milliseconds timeout{1000};  // --multiline-timeout
};

// Groups lines into records by a MultilineRule. A record is complete when the next one starts,
// when no line came for `timeout` (flushIfDue), at the end of the input (flush), and when one more
// line would take it past `maxLines` lines or `maxBytes` bytes: it is then complete as it is, and
// that line starts the next record (counted in splits(); nothing is dropped). Lines are joined with
// '\n'. Empty lines: with the rule Off they are skipped (counted); otherwise an empty line belongs
// to the record before it (a blank line inside a message), and the empty lines at the end of a
// record are dropped; an empty line with no record before it is skipped (counted).
//
// Each line comes with a tag (a followed file passes the offset where the line starts and its line
// number), so the caller knows where the record still pending begins (pendingTag) and where the
// record just returned began (doneTag): a record is tagged with its first line's tag.
struct LineTag {
  uint64_t offset = 0;
  uint64_t line = 0;
};

class LineJoiner {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LineJoiner(const MultilineOptions& options) : options_(options) {}

  // Adds a line (at most maxBytes long). Returns the record this line completed, if any: the line
  // itself with the rule Off, else the record before it. The view is valid until the next call.
  std::optional<std::string_view> push(std::string_view line, LineTag tag, Clock::time_point now);
  // The pending record, if any, complete now (end of input, a file closed or truncated).
  std::optional<std::string_view> flush();
  // The pending record if no line came for `timeout`.
  std::optional<std::string_view> flushIfDue(Clock::time_point now);

  bool pending() const { return lines_ > 0; }
  LineTag pendingTag() const { return pendingTag_; }
  // The tag of the first line of the record that push, flush or flushIfDue returned last.
  LineTag doneTag() const { return doneTag_; }
  // When flushIfDue will return the pending record (nullopt: nothing pending).
  std::optional<Clock::time_point> due() const;
  uint64_t emptyLines() const { return emptyLines_; }
  uint64_t splits() const { return splits_; }
  uint64_t takeSplits() { return std::exchange(splits_, 0); }

 private:
  void start(std::string_view line, LineTag tag, Clock::time_point now);
  std::string_view take();  // moves the pending record to done_, trailing empty lines dropped

  const MultilineOptions& options_;
  std::string pending_;
  size_t lines_ = 0;
  LineTag pendingTag_;
  LineTag doneTag_;
  Clock::time_point lastLine_{};
  std::string done_;
  uint64_t emptyLines_ = 0;
  uint64_t splits_ = 0;
};

}  // namespace logship
