#include "producer/input/multiline.hpp"

#include <regex.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship {

// The same engine as logctl search --grep (src/search/pattern.cpp): POSIX extended, bytes (the C
// locale), matched in place with REG_STARTEND.
struct MultilineRule::Regex {
  regex_t compiled{};
  explicit Regex(const std::string& ere, std::string_view flag) {
    const int rc = regcomp(&compiled, ere.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char reason[256] = {};
      regerror(rc, &compiled, reason, sizeof reason);
      throw UsageError(
          fmt::format("{}: '{}' is not a valid extended regular expression: {}", flag, escaped(ere), reason));
    }
  }
  ~Regex() { regfree(&compiled); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  bool matches(std::string_view line) const {
    regmatch_t m{};
    m.rm_so = 0;
    m.rm_eo = static_cast<regoff_t>(line.size());
    return regexec(&compiled, line.data(), 0, &m, REG_STARTEND) == 0;
  }
};

MultilineRule MultilineRule::startingWith(const std::string& ere, std::string_view flag) {
  if (ere.empty()) throw UsageError(fmt::format("{}: the regular expression is empty", flag));
  MultilineRule r;
  r.mode_ = Mode::Start;
  r.regex_ = std::make_shared<const Regex>(ere, flag);
  return r;
}

MultilineRule MultilineRule::indented() {
  MultilineRule r;
  r.mode_ = Mode::Indented;
  return r;
}

bool MultilineRule::startsRecord(std::string_view line) const {
  switch (mode_) {
    case Mode::Off: return true;
    case Mode::Start: return regex_->matches(line);
    case Mode::Indented:
      if (line.empty()) return false;
      if (line.front() == ' ' || line.front() == '\t') return false;
      return !line.starts_with("Caused by:");
  }
  return true;
}

void LineJoiner::start(std::string_view line, LineTag tag, Clock::time_point now) {
  if (line.empty()) {
    ++emptyLines_;
    return;
  }
  pending_.assign(line);
  lines_ = 1;
  pendingTag_ = tag;
  lastLine_ = now;
}

std::string_view LineJoiner::take() {
  done_.swap(pending_);
  doneTag_ = pendingTag_;
  pending_.clear();
  lines_ = 0;
  while (!done_.empty() && done_.back() == '\n') done_.pop_back();
  return done_;
}

std::optional<std::string_view> LineJoiner::push(std::string_view line, LineTag tag, Clock::time_point now) {
  if (options_.rule.mode() == MultilineRule::Mode::Off) {
    if (line.empty()) {
      ++emptyLines_;
      return std::nullopt;
    }
    doneTag_ = tag;
    return line;
  }
  if (lines_ == 0) {
    start(line, tag, now);
    return std::nullopt;
  }
  if (!line.empty() && options_.rule.startsRecord(line)) {
    const std::string_view done = take();
    start(line, tag, now);
    return done;
  }
  if (lines_ >= options_.maxLines || pending_.size() + 1 + line.size() > options_.maxBytes) {
    ++splits_;
    const std::string_view done = take();
    start(line, tag, now);
    return done;
  }
  pending_ += '\n';
  pending_ += line;
  ++lines_;
  lastLine_ = now;
  return std::nullopt;
}

std::optional<std::string_view> LineJoiner::flush() {
  if (lines_ == 0) return std::nullopt;
  return take();
}

std::optional<std::string_view> LineJoiner::flushIfDue(Clock::time_point now) {
  if (lines_ == 0 || now - lastLine_ < options_.timeout) return std::nullopt;
  return take();
}

std::optional<LineJoiner::Clock::time_point> LineJoiner::due() const {
  if (lines_ == 0) return std::nullopt;
  return lastLine_ + options_.timeout;
}

}  // namespace logship
