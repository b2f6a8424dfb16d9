#include "broker/reconnecting.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace logship {
namespace {

std::string describeWindow(std::chrono::milliseconds window) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(window).count();
  return s >= 86400 * 365 ? std::string("until stopped") : fmt::format("for up to {} s", s);
}

// "gave up after 5 s of trying (--retry-seconds 2; one attempt can take --connect-timeout 5 s)".
std::string describeGivingUp(Clock::duration spent, std::chrono::milliseconds window, const char* flag,
                             std::chrono::milliseconds connectTimeout) {
  const auto seconds = [](auto d) {
    return fmt::format("{}",
                       static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) / 1000.0);
  };
  std::string text =
      fmt::format("gave up after {} s of trying: {} {}",
                  std::chrono::duration_cast<std::chrono::seconds>(spent).count(), flag, seconds(window));
  if (spent > window) text += fmt::format("; one attempt can take --connect-timeout {} s", seconds(connectTimeout));
  return text;
}

}  // namespace

template <typename T>
std::unique_ptr<T> Reconnector::open(const Opener<T>& opener, std::chrono::milliseconds window, const char* what,
                                     const char* flag) {
  const auto start = Clock::now();
  const auto giveUpAt = window.count() >= 86400LL * 365 * 1000 ? Clock::time_point::max() : start + window;
  auto backoff = std::chrono::milliseconds(100);
  bool warned = false;
  std::string lastError;
  // The sentinels of a redis-sentinel:// list are one broker: the adapter asks each in turn.
  const bool sentinels = options_.url.scheme == BrokerUrl::Scheme::RedisSentinel;
  const size_t n = options_.urls.empty() || sentinels ? 1 : options_.urls.size();
  for (;;) {
    for (size_t i = 0; i < n; ++i) {
      const size_t index = (next_ + i) % n;
      BrokerOptions one = options_;
      if (!options_.urls.empty()) one.url = options_.urls[index];
      try {
        auto conn = opener(one);
        if (warned || index != next_) spdlog::info("connected to {}", one.url.redacted());
        next_ = index;
        if (options_.status != nullptr) options_.status->up();
        return conn;
      } catch (const BrokerRefusedError& e) {
        if (options_.status != nullptr) options_.status->down(e.what());
        throw;  // wrong credentials, wrong key type, ...: retrying cannot help
      } catch (const InterruptedError&) {
        throw;
      } catch (const ConnectionError& e) {
        lastError = e.what();
        if (options_.status != nullptr) options_.status->down(lastError);
        if (n > 1) spdlog::warn("{}", lastError);
      }
    }
    if (options_.stopRequested != nullptr && options_.stopRequested->load()) {
      throw InterruptedError(fmt::format("interrupted while {}", what));
    }
    const auto now = Clock::now();
    if (now >= giveUpAt) {
      throw ConnectionError(
          fmt::format("{} ({})", lastError, describeGivingUp(now - start, window, flag, options_.connectTimeout)));
    }
    if (!warned) {
      spdlog::warn("{}; {} {}", lastError, what, describeWindow(window));
      warned = true;
    }
    // Exponential backoff with jitter (0.5x to 1.5x), so many clients do not come back in step.
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    auto sleep = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(backoff.count()) * jitter(rng_)));
    if (giveUpAt != Clock::time_point::max()) {
      sleep = std::min(sleep, std::chrono::duration_cast<std::chrono::milliseconds>(giveUpAt - now));
    }
    // Sleep in slices so that a stop request is seen promptly.
    const auto wakeAt = Clock::now() + sleep;
    while (Clock::now() < wakeAt && !(options_.stopRequested != nullptr && options_.stopRequested->load())) {
      std::this_thread::sleep_for(std::min(
          std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(wakeAt - Clock::now())));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5'000));
  }
}

template std::unique_ptr<Publisher> Reconnector::open(const Opener<Publisher>&, std::chrono::milliseconds, const char*,
                                                      const char*);
template std::unique_ptr<Consumer> Reconnector::open(const Opener<Consumer>&, std::chrono::milliseconds, const char*,
                                                     const char*);
template std::unique_ptr<TailSubscription> Reconnector::open(const Opener<TailSubscription>&, std::chrono::milliseconds,
                                                             const char*, const char*);
template std::unique_ptr<Admin> Reconnector::open(const Opener<Admin>&, std::chrono::milliseconds, const char*,
                                                  const char*);

// ---- publisher -------------------------------------------------------------------------------

ReconnectingPublisher::ReconnectingPublisher(const BrokerOptions& options, Opener<Publisher> opener)
    : reconnector_(options), opener_(std::move(opener)) {
  inner_ = reconnector_.connect(opener_);
}

void ReconnectingPublisher::sendOnCurrent(uint64_t seq) {
  const uint64_t innerSeq = inner_->publish(*pending_[seq - base_].message);
  if (sent_.empty()) sentBase_ = innerSeq;
  sent_.push_back(seq);
}

uint64_t ReconnectingPublisher::publish(const Message& message) {
  return publishShared(std::make_shared<const Message>(message));
}

uint64_t ReconnectingPublisher::publishShared(const std::shared_ptr<const Message>& message) {
  const uint64_t seq = nextSeq_++;
  pending_.push_back(Pending{message});
  ++unsettled_;
  try {
    sendOnCurrent(seq);
  } catch (const ConnectionError& e) {
    reconnectAndResend(e.what());
  }
  return seq;
}

void ReconnectingPublisher::reconnectAndResend(const std::string& why) {
  if (ConnectionStatus* status = reconnector_.options().status) status->down(why);
  if (reconnector_.options().reconnectFor.count() == 0) throw ConnectionError(why);
  for (;;) {
    spdlog::warn("{}: reconnecting; {} unconfirmed record(s) will be sent again", why, unsettled_);
    inner_.reset();
    sent_.clear();
    inner_ = reconnector_.reconnect(opener_);
    ++reconnects_;
    try {
      for (size_t i = 0; i < pending_.size(); ++i) {
        if (!pending_[i].settled) sendOnCurrent(base_ + i);
      }
      return;
    } catch (const ConnectionError& e) {
      spdlog::warn("the new connection broke too: {}", e.what());
    }
  }
}

void ReconnectingPublisher::settle(const ConfirmRange& inner, std::vector<ConfirmRange>& out, Refused& refused) {
  for (uint64_t s = std::max(inner.first, sentBase_); s <= inner.last && s - sentBase_ < sent_.size(); ++s) {
    const uint64_t seq = sent_[s - sentBase_];
    Pending& p = pending_[seq - base_];
    if (p.settled) continue;
    if (!inner.ok && retryRefused(p)) {
      if (refused.count++ == 0) refused.reason = inner.reason;
      continue;  // stays unsettled: resent on the next connection
    }
    p.settled = true;
    --unsettled_;
    const std::string reason = inner.ok ? std::string() : fmt::format("{} (tried {} times)", inner.reason, p.attempts);
    if (!out.empty() && out.back().ok == inner.ok && out.back().last + 1 == seq && out.back().reason == reason) {
      out.back().last = seq;
    } else {
      out.push_back({seq, seq, inner.ok, reason});
    }
  }
  while (!sent_.empty() && pending_[sent_.front() - base_].settled) {
    sent_.pop_front();
    ++sentBase_;
  }
  while (!pending_.empty() && pending_.front().settled) {
    pending_.pop_front();
    ++base_;
  }
}

bool ReconnectingPublisher::retryRefused(Pending& p) {
  const auto now = Clock::now();
  if (p.attempts++ == 0) p.firstRefused = now;
  return p.attempts < kMaxAttempts || now - p.firstRefused < kRefusedRetryFor;
}

void ReconnectingPublisher::backOffBeforeResending() {
  refusedBackoff_ = std::clamp(refusedBackoff_ * 2, kRefusedBackoff, kMaxRefusedBackoff);
  const auto wakeAt = Clock::now() + refusedBackoff_;
  const std::atomic<bool>* stop = reconnector_.options().stopRequested;
  while (Clock::now() < wakeAt && !(stop != nullptr && stop->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

size_t ReconnectingPublisher::awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline,
                                            std::vector<ConfirmRange>& out) {
  for (;;) {
    Refused refused;
    try {
      innerConfirms_.clear();
      inner_->awaitConfirms(maxUnconfirmed, deadline, innerConfirms_);
      for (const auto& c : innerConfirms_) settle(c, out, refused);
      if (refused.count == 0 && !innerConfirms_.empty()) refusedBackoff_ = std::chrono::milliseconds(0);
      if (refused.count > 0) {
        // Refused by the broker (nack, returned, error reply): first collect the confirms of the
        // rest still in flight, then send the refused ones again on a fresh connection, which
        // declares the queue again (it may have been deleted).
        innerConfirms_.clear();
        inner_->awaitConfirms(0, std::min(deadline, Clock::now() + std::chrono::seconds(5)), innerConfirms_);
        for (const auto& c : innerConfirms_) settle(c, out, refused);
        backOffBeforeResending();
        reconnectAndResend(fmt::format("the broker refused {} record(s): {}", refused.count, refused.reason));
        continue;
      }
    } catch (const ConnectionError& e) {
      reconnectAndResend(e.what());
      if (Clock::now() < deadline) continue;
    }
    return unconfirmed();
  }
}

// ---- consumer --------------------------------------------------------------------------------

ReconnectingConsumer::ReconnectingConsumer(const BrokerOptions& options, Opener<Consumer> opener)
    : reconnector_(options), opener_(std::move(opener)) {
  inner_ = reconnector_.connect(opener_);
}

void ReconnectingConsumer::reconnect(const std::string& why) {
  if (ConnectionStatus* status = reconnector_.options().status) status->down(why);
  if (reconnector_.options().reconnectFor.count() == 0) throw ConnectionError(why);
  spdlog::warn("{}: reconnecting; the broker delivers the {} record(s) taken and not yet acknowledged again", why,
               unacked_.size());
  lostAcks_ += unacked_.size();
  unacked_.clear();
  currentFirstTag_ = nextTag_;
  if (inner_) inner_->close();
  inner_.reset();
  inner_ = reconnector_.reconnect(opener_);
  ++reconnects_;
  spdlog::info("consuming again after reconnect #{}", reconnects_);
}

size_t ReconnectingConsumer::receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) {
  const size_t before = out.size();
  size_t n = 0;
  try {
    n = inner_->receive(out, max, timeout);
  } catch (const ConnectionError& e) {
    out.resize(before);
    reconnect(e.what());
    return 0;
  }
  ourTags(out, before);
  return n;
}

void ReconnectingConsumer::ourTags(std::vector<Delivery>& out, size_t from) {
  for (size_t i = from; i < out.size(); ++i) {
    const uint64_t innerTag = out[i].tag;
    out[i].tag = nextTag_++;
    unacked_.emplace_back(out[i].tag, innerTag);
  }
}

bool ReconnectingConsumer::stopForHandBack(std::vector<Delivery>& pushedAhead) {
  // Deliveries of a broken connection come back redelivered whatever we do (a lost connection
  // counts as a failure); only the current connection's can be handed back.
  const size_t before = pushedAhead.size();
  try {
    if (!inner_->stopForHandBack(pushedAhead)) return false;
  } catch (const ConnectionError&) {
    pushedAhead.resize(before);
    return false;
  }
  ourTags(pushedAhead, before);
  return true;
}

void ReconnectingConsumer::ackUpTo(uint64_t tag) {
  if (tag < currentFirstTag_) return;  // from a broken connection: the broker delivers it again
  uint64_t innerTag = 0;
  uint64_t popped = 0;
  while (!unacked_.empty() && unacked_.front().first <= tag) {
    innerTag = unacked_.front().second;
    unacked_.pop_front();
    ++popped;
  }
  if (popped == 0) return;
  try {
    inner_->ackUpTo(innerTag);
  } catch (const ConnectionError& e) {
    lostAcks_ += popped;
    reconnect(fmt::format("{} (acknowledging written records: they will be delivered and written again)", e.what()));
  }
}

void ReconnectingConsumer::close() noexcept {
  if (inner_) inner_->close();
}

}  // namespace logship
