#pragma once
// log_producer started on a spool that holds records of an earlier run (--spool-dir): while they
// are sent, one line on a terminal's standard error says how many are left, how many were sent and
// at what rate, redrawn a few times a second and cleared once they are all confirmed. Nothing is
// drawn when standard error is not a terminal or the spool was empty.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/progress_line.hpp"
#include "producer/shipper.hpp"

namespace logship {

class DrainProgress {
 public:
  explicit DrainProgress(const Shipper& shipper, std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~DrainProgress();
  DrainProgress(const DrainProgress&) = delete;
  DrainProgress& operator=(const DrainProgress&) = delete;

  // Clears the line and ends the thread (before the program prints its result).
  void stop();

 private:
  void run();

  const Shipper& shipper_;
  std::chrono::milliseconds interval_;
  ProgressLine line_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace logship
