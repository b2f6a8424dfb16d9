#include "core/level.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

namespace logship {

std::optional<Level> parseLevel(std::string_view text) {
  if (text.size() > 16) return std::nullopt;
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "trace") return Level::Trace;
  if (lower == "debug") return Level::Debug;
  if (lower == "info") return Level::Info;
  if (lower == "warn" || lower == "warning") return Level::Warn;
  if (lower == "error" || lower == "err") return Level::Error;
  if (lower == "fatal" || lower == "critical" || lower == "crit") return Level::Fatal;
  return std::nullopt;
}

std::string_view levelName(Level level) {
  static constexpr std::array<std::string_view, 6> names{"trace", "debug", "info", "warn", "error", "fatal"};
  return names[static_cast<size_t>(level)];
}

std::string_view levelLabel(Level level) {
  static constexpr std::array<std::string_view, 6> labels{"TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL"};
  return labels[static_cast<size_t>(level)];
}

}  // namespace logship
