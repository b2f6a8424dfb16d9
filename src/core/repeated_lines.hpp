#pragma once
// Log lines that can come in bursts (one per message: a lease lost at every acknowledgement after a
// takeover, a dead-lettered message per delivery of a poisoned batch) logged once with a count
// instead of once each: the first line goes out at once; identical lines that follow it within the
// window are counted, and the count is logged as one line ("... (and 49 more times within 3 ms)")
// when a different line comes, when the same line comes after the window, or at flush().
// Thread-safe. Logging never throws (spdlog).
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace logship {

class RepeatedLines {
 public:
  enum class Level { Info, Warn, Error };

  explicit RepeatedLines(std::chrono::milliseconds window = std::chrono::seconds(10)) : window_(window) {}
  ~RepeatedLines() { flush(); }
  RepeatedLines(const RepeatedLines&) = delete;
  RepeatedLines& operator=(const RepeatedLines&) = delete;

  void log(Level level, const std::string& line);
  // Logs the count of the repeats not told yet (callers call it at the end of a burst: a batch).
  void flush();

 private:
  using Clock = std::chrono::steady_clock;
  void flushLocked();

  const std::chrono::milliseconds window_;
  std::mutex mu_;
  std::string last_;
  Level level_ = Level::Info;
  Clock::time_point firstAt_{};
  Clock::time_point lastAt_{};
  uint64_t repeats_ = 0;  // identical lines after last_ not logged yet
};

}  // namespace logship
