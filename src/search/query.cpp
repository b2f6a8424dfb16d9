#include "search/query.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"
#include "core/units.hpp"

namespace logship::search {

int64_t parseTimeBound(std::string_view flag, std::string_view text, int64_t nowUs) {
  if (auto t = parseTimestamp(text)) return *t;
  if (const auto before = parseDuration(text)) return nowUs - before->count() * 1'000'000;
  throw UsageError(fmt::format(
      "{}: '{}' is neither an RFC 3339 timestamp (like 2026-11-24T08:00:00Z or 2026-11-24T09:00:00+01:00) nor a "
      "duration before now (like 90s, 15m, 2h, 7d)",
      flag, escaped(text)));
}

}  // namespace logship::search
