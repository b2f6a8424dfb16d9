#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace logship {

// Width of what appendTimestamp writes: "2026-11-24T08:25:07.123456Z". For years 0000 to 9999 the
// byte order of such strings is their time order, so a filter can compare them with memcmp.
inline constexpr size_t kTimestampWidth = 27;

int64_t nowMicros();
// Appends RFC 3339 UTC with microseconds: 2026-11-24T08:25:07.123456Z
void appendTimestamp(std::string& out, int64_t micros);
std::string formatTimestamp(int64_t micros);

// Parses an RFC 3339 timestamp into microseconds since the epoch:
//   YYYY-MM-DD(T|t| )HH:MM:SS[.FRACTION](Z|z|+HH:MM|-HH:MM)
// and, as a convenience, a date alone (YYYY-MM-DD: midnight UTC). Digits beyond microseconds are
// truncated. Returns nullopt for anything else (an out-of-range month, day, hour, ...).
std::optional<int64_t> parseTimestamp(std::string_view text);

}  // namespace logship
