#pragma once
// Sizes and durations as people write them on a command line ("256K", "1G", "90s", "1d"), parsed in
// one place for every program and flag (log_producer --batch-bytes / --spool-max-bytes,
// log_aggregator --rotate-bytes / --rotate-interval / --max-age, logctl search --since / --until).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace logship {

// A byte count: a whole number, optionally followed (spaces allowed in between) by a unit, any case:
// b; k, m, g, t, p, e, each optionally followed by i and/or b (k, kb, ki, kib: 1024). Every unit is
// 1024-based. nullopt for anything else, a negative number, or more than 2^64 - 1 bytes.
std::optional<uint64_t> parseByteSize(std::string_view text);

// A duration: a whole number and one unit, s, m, h, d or w (90s, 15m, 1h, 7d, 2w), at most 100
// years. nullopt for anything else (a bare number included: the unit is never implied).
std::optional<std::chrono::seconds> parseDuration(std::string_view text);

// What both accept, for error messages.
inline constexpr std::string_view kByteSizeSyntax =
    "a whole number of bytes with an optional unit K, M, G, T (1024-based), like 64K, 100M, 1G";
inline constexpr std::string_view kDurationSyntax = "a whole number and s, m, h, d or w, like 90s, 15m, 1h, 7d";

// "1.5 GiB", "100 KiB", "12 bytes": for log lines.
std::string formatByteSize(uint64_t bytes);
// "90s", "15m", "1h", "7d", "2w": the largest unit that divides it (the form parseDuration reads).
std::string formatDuration(std::chrono::seconds d);

}  // namespace logship
