#pragma once
#include <cstdint>
#include <string>

namespace logship {

int64_t nowMicros();
// Appends RFC 3339 UTC with microseconds: 2026-11-24T08:25:07.123456Z
void appendTimestamp(std::string& out, int64_t micros);
std::string formatTimestamp(int64_t micros);

}  // namespace logship
