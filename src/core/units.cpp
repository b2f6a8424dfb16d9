#include "core/units.hpp"

#include <charconv>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace logship {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::optional<uint64_t> parseByteSize(std::string_view text) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit = text.substr(static_cast<size_t>(end - text.data()));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::string u;
  for (char c : unit) u += lower(c);
  uint64_t factor = 1;
  if (!u.empty() && u != "b") {
    static constexpr std::string_view kPrefixes = "kmgtpe";
    const size_t power = kPrefixes.find(u.front());
    const std::string_view rest = std::string_view(u).substr(1);
    if (power == std::string_view::npos || !(rest.empty() || rest == "b" || rest == "i" || rest == "ib")) {
      return std::nullopt;
    }
    factor = uint64_t{1} << (10 * (power + 1));
  }
  if (n > std::numeric_limits<uint64_t>::max() / factor) return std::nullopt;
  return n * factor;
}

std::optional<std::chrono::seconds> parseDuration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86'400; break;
    case 'w': unit = 7 * 86'400; break;
    default: return std::nullopt;
  }
  const std::string_view number = text.substr(0, text.size() - 1);
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  // At most 100 years: keeps every use (microseconds, time points) far from overflow.
  if (ec != std::errc() || end != number.data() + number.size() || n < 0 || n > 3'200'000'000LL / unit) {
    return std::nullopt;
  }
  return std::chrono::seconds(n * unit);
}

std::string formatByteSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} byte{}", bytes, bytes == 1 ? "" : "s");
  double v = static_cast<double>(bytes);
  size_t i = 0;
  v /= 1024;
  while (v >= 1024 && i + 1 < std::size(kUnits)) {
    v /= 1024;
    ++i;
  }
  const bool whole = bytes % (uint64_t{1} << (10 * (i + 1))) == 0;
  return fmt::format("{:.{}f} {}", v, whole || v >= 10 ? 0 : 1, kUnits[i]);
}

std::string formatDuration(std::chrono::seconds d) {
  const int64_t s = d.count();
  for (const auto& [unit, name] : {std::pair<int64_t, char>{7 * 86'400, 'w'}, {86'400, 'd'}, {3600, 'h'}, {60, 'm'}}) {
    if (s != 0 && s % unit == 0) return fmt::format("{}{}", s / unit, name);
  }
  return fmt::format("{}s", s);
}

}  // namespace logship
