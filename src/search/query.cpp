#include "search/query.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"

namespace logship::search {

int64_t parseTimeBound(std::string_view flag, std::string_view text, int64_t nowUs) {
  if (auto t = parseTimestamp(text)) return *t;
  if (text.size() >= 2) {
    int64_t unitSeconds = 0;
    switch (text.back()) {
      case 's': unitSeconds = 1; break;
      case 'm': unitSeconds = 60; break;
      case 'h': unitSeconds = 3600; break;
      case 'd': unitSeconds = 86'400; break;
      case 'w': unitSeconds = 7 * 86'400; break;
      default: break;
    }
    int64_t n = 0;
    const std::string_view number = text.substr(0, text.size() - 1);
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    // At most 100 years back: keeps the arithmetic far from overflow.
    if (unitSeconds > 0 && ec == std::errc() && end == number.data() + number.size() && n >= 0 &&
        n <= 3'200'000'000LL / unitSeconds) {
      return nowUs - n * unitSeconds * 1'000'000;
    }
  }
  throw UsageError(fmt::format(
      "{}: '{}' is neither an RFC 3339 timestamp (like 2026-11-24T08:00:00Z or 2026-11-24T09:00:00+01:00) nor a "
      "duration before now (like 90s, 15m, 2h, 7d)",
      flag, escaped(text)));
}

}  // namespace logship::search
