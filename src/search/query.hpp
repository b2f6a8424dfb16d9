#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/level.hpp"

namespace logship::search {

// What `logctl search` looks for. Every condition given must hold (AND); the services are
// alternatives (OR).
struct Query {
  std::optional<int64_t> sinceUs;     // record timestamp >= since (microseconds since the epoch)
  std::optional<int64_t> untilUs;     // record timestamp < until
  std::optional<Level> minLevel;      // this level or above
  std::vector<std::string> services;  // the record's service is one of these (decoded names)
  std::vector<std::string> hosts;     // the record's host matches one of these names or globs (fnmatch)
  std::string grep;                   // POSIX extended regular expression on the line as written; "" = none

  // True if a condition needs the record's timestamp, level or service (which raw lines lack).
  bool needsRecordParts() const { return sinceUs || untilUs || minLevel || !services.empty() || !hosts.empty(); }
};

// Reads a --since / --until value: an RFC 3339 timestamp (2026-11-24T08:00:00Z, with an offset
// or 'Z'; a date alone means midnight UTC), or a duration before `nowUs`: a whole number with one
// of s, m, h, d, w (90s, 15m, 2h, 7d). Throws UsageError naming `flag`.
int64_t parseTimeBound(std::string_view flag, std::string_view text, int64_t nowUs);

}  // namespace logship::search
