#include "producer/drain_progress.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "core/escape.hpp"

namespace logship {

DrainProgress::DrainProgress(const Shipper& shipper, std::chrono::milliseconds interval)
    : shipper_(shipper), interval_(interval), line_(shipper.report().recovered > 0, interval) {
  if (line_.enabled()) thread_ = std::thread([this] { run(); });
}

DrainProgress::~DrainProgress() { stop(); }

void DrainProgress::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  line_.clear();
}

void DrainProgress::run() {
  const uint64_t recovered = shipper_.report().recovered;
  const std::string dir = escaped(shipper_.spool().location());
  // The rate is measured from the first draw on: the shipper may have sent some before this thread
  // ran, and a count divided by the microseconds since start would be a nonsense rate. The first draw
  // says 0 records/s (nothing measured yet).
  uint64_t sentAtFirstDraw = 0;
  std::optional<std::chrono::steady_clock::time_point> firstDraw;
  std::unique_lock lock(mu_);
  for (;;) {
    // The spool sends in order: the first `recovered` confirmations are the earlier run's records.
    // Drawn at least once, even when the shipper sent them all before this thread ran: the line then
    // shows them all sent for a moment before it is cleared.
    const uint64_t sent = std::min(shipper_.confirmedSoFar(), recovered);
    if (sent >= recovered && firstDraw) break;
    const auto now = std::chrono::steady_clock::now();
    if (!firstDraw) {
      sentAtFirstDraw = sent;
      firstDraw = now;
    }
    const double secs = std::chrono::duration<double>(now - *firstDraw).count();
    const double rate = secs > 0 ? static_cast<double>(sent - sentAtFirstDraw) / secs : 0.0;
    line_.draw(fmt::format("log_producer: spool {}: {} of {} records from an earlier run left, {} sent ({:.0f} "
                           "records/s)",
                           dir, recovered - sent, recovered, sent, rate),
               true);
    if (sent >= recovered || cv_.wait_for(lock, interval_, [this] { return stop_; })) break;
  }
  line_.clear();
}

}  // namespace logship
