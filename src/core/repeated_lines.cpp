#include "core/repeated_lines.hpp"

#include <spdlog/spdlog.h>

namespace logship {
namespace {

void emit(RepeatedLines::Level level, const std::string& line) {
  switch (level) {
    case RepeatedLines::Level::Info: spdlog::info("{}", line); break;
    case RepeatedLines::Level::Warn: spdlog::warn("{}", line); break;
    case RepeatedLines::Level::Error: spdlog::error("{}", line); break;
  }
}

}  // namespace

void RepeatedLines::log(Level level, const std::string& line) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  if (line == last_ && level == level_ && now - firstAt_ < window_) {
    ++repeats_;
    lastAt_ = now;
    return;
  }
  flushLocked();
  emit(level, line);
  last_ = line;
  level_ = level;
  firstAt_ = lastAt_ = now;
}

void RepeatedLines::flush() {
  std::lock_guard lock(mu_);
  flushLocked();
}

void RepeatedLines::flushLocked() {
  if (repeats_ == 0) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(lastAt_ - firstAt_).count();
  emit(level_, fmt::format("{} (and {} more time{} within {} ms)", last_, repeats_, repeats_ == 1 ? "" : "s", ms));
  repeats_ = 0;
  firstAt_ = lastAt_;  // a repeat after the summary starts a new count
}

}  // namespace logship
