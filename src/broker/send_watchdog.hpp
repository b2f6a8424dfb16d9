#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace logship {

// Puts a deadline on sends that a C client library would otherwise wait on forever (rabbitmq-c
// polls a full socket with no timeout, e.g. while the broker blocks publishers during a memory or
// disk alarm). While a send is in progress, a background thread watches the socket's unsent bytes;
// if they stay queued with no progress for `limit`, it shuts the socket down, so the send fails
// and the caller reports a timeout instead of hanging.
class SendWatchdog {
 public:
  SendWatchdog(int fd, std::chrono::milliseconds limit);
  SendWatchdog(const SendWatchdog&) = delete;
  SendWatchdog& operator=(const SendWatchdog&) = delete;
  ~SendWatchdog();

  // Brackets one blocking send. Cheap: two atomic stores.
  void begin() noexcept { sending_.store(true, std::memory_order_release); }
  void end() noexcept { sending_.store(false, std::memory_order_release); }
  std::chrono::milliseconds limit() const noexcept { return limit_; }
  // True once the watchdog gave up on the socket.
  bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }

 private:
  void run();

  int fd_;
  std::chrono::milliseconds limit_;
  std::atomic<bool> sending_{false};
  std::atomic<bool> fired_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace logship
