#include "core/timestamp.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace logship {

int64_t nowMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

void appendTimestamp(std::string& out, int64_t micros) {
  int64_t secs = micros / 1'000'000;
  int64_t frac = micros % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string formatTimestamp(int64_t micros) {
  std::string s;
  appendTimestamp(s, micros);
  return s;
}

}  // namespace logship
