#pragma once
// The state of a program's broker connection, for observers on other threads (metrics,
// /healthz). Set BrokerOptions::status to one: the Reconnector and the reconnecting decorators
// (broker/reconnecting.hpp) keep it up to date, whatever the adapter.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/registry.hpp"

namespace logship {

class ConnectionStatus {
 public:
  // A connection was opened. The second and later ones count as reconnects.
  void up() {
    if (opened_.fetch_add(1, std::memory_order_relaxed) > 0) reconnects_.fetch_add(1, std::memory_order_relaxed);
    connected_.store(true, std::memory_order_relaxed);
  }
  // A connection attempt failed, or a working connection broke: `why` (one line, no password).
  void down(std::string_view why) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      lastError_.assign(why);
    }
    connected_.store(false, std::memory_order_relaxed);
  }

  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  bool everConnected() const { return opened_.load(std::memory_order_relaxed) > 0; }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  // Failed connection attempts plus connections that broke.
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  std::string lastError() const {
    std::lock_guard lock(mu_);
    return lastError_;
  }
  // nullopt while connected, else why not (one line, for /healthz).
  std::optional<std::string> problem() const;

 private:
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  std::string lastError_;
};

// The help text of <prefix>_errors_total, whose `kind` label several components fill.
inline constexpr const char* kErrorsTotalHelp =
    "Errors by kind: broker = a connection attempt failed, a connection broke or the broker refused a publish; "
    "write = writing or syncing the output failed";

// Registers <prefix>_broker_connected, <prefix>_broker_reconnects_total and
// <prefix>_errors_total{kind="broker"}, read from `status` (which must outlive the group).
void registerConnectionMetrics(metrics::Registry::Group& group, const std::string& prefix,
                               const ConnectionStatus& status);

}  // namespace logship
