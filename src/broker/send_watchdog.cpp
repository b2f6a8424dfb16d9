#include "broker/send_watchdog.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace logship {
namespace {
// Bytes the kernel still holds for sending (-1 if unknown).
int unsentBytes(int fd) {
  int queued = 0;
  return ::ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : -1;
}
}  // namespace

SendWatchdog::SendWatchdog(int fd, std::chrono::milliseconds limit)
    : fd_(fd), limit_(limit), thread_([this] { run(); }) {}

SendWatchdog::~SendWatchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void SendWatchdog::run() {
  using Clock = std::chrono::steady_clock;
  const auto tick =
      std::min<std::chrono::milliseconds>(limit_ / 4 + std::chrono::milliseconds(1), std::chrono::milliseconds(500));
  int lastQueued = -1;
  auto stuckSince = Clock::now();
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, tick, [this] { return stopping_; })) {
    if (!sending_.load(std::memory_order_acquire)) {
      lastQueued = -1;
      continue;
    }
    const int queued = unsentBytes(fd_);
    const auto now = Clock::now();
    if (queued <= 0 || queued != lastQueued) {  // the peer is reading: progress
      lastQueued = queued;
      stuckSince = now;
      continue;
    }
    if (now - stuckSince >= limit_) {
      fired_.store(true, std::memory_order_release);
      ::shutdown(fd_, SHUT_RDWR);  // the blocked send fails; the fd stays owned by its connection
      return;
    }
  }
}

}  // namespace logship
