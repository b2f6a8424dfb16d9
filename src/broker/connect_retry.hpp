#pragma once
// The one retry loop every adapter uses to open a connection.
#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/options.hpp"
#include "core/error.hpp"

namespace logship {

// Calls `openOnce()` until it succeeds, retrying ConnectionError (unreachable, timed out) with
// exponential backoff for options.retryFor. BrokerRefusedError (bad credentials, ...) is not
// retried: retrying cannot help. Stops early with InterruptedError when options.stopRequested is set.
template <typename OpenOnce>
auto openWithRetry(const BrokerOptions& options, OpenOnce&& openOnce) -> decltype(openOnce()) {
  const auto giveUpAt = Clock::now() + options.retryFor;
  const auto retrySeconds = std::chrono::duration_cast<std::chrono::seconds>(options.retryFor).count();
  auto backoff = std::chrono::milliseconds(100);
  bool warned = false;
  for (;;) {
    try {
      auto conn = openOnce();
      if (warned) spdlog::info("connected to {}", options.url.redacted());
      return conn;
    } catch (const TimeoutError&) {
      if (Clock::now() >= giveUpAt) throw;
    } catch (const BrokerRefusedError&) {
      throw;
    } catch (const ConnectionError& e) {
      if (options.retryFor.count() == 0) throw;  // a single attempt: the caller retries
      if (Clock::now() >= giveUpAt) {
        throw ConnectionError(fmt::format("{} (gave up after {} s; see --retry-seconds)", e.what(), retrySeconds));
      }
      if (!warned) {
        spdlog::warn("{}; retrying for up to {} s", e.what(), retrySeconds);
        warned = true;
      }
    }
    if (options.stopRequested != nullptr && options.stopRequested->load()) {
      throw InterruptedError("interrupted while connecting to the broker");
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(giveUpAt - Clock::now());
    std::this_thread::sleep_for(std::clamp(backoff, std::chrono::milliseconds(0), left));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2'000));
  }
}

}  // namespace logship
