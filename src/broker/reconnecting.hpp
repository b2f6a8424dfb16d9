#pragma once
// Reconnecting decorators over any adapter (written once for every broker): a broker restart, a
// closed connection or a failover to another node is handled here, not in the pipeline.
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "broker/admin.hpp"
#include "broker/consumer.hpp"
#include "broker/options.hpp"
#include "broker/publisher.hpp"
#include "broker/tail.hpp"

namespace logship {

// Makes one connection attempt to the broker at options.url (an adapter constructor).
template <typename T>
using Opener = std::function<std::unique_ptr<T>(const BrokerOptions&)>;

// The one retry loop of every connection: tries each of options.urls in turn (starting with the
// one that worked last), with exponential backoff and jitter, until one opens. BrokerRefusedError
// and TlsError are not retried; a stop request ends the wait with InterruptedError.
class Reconnector {
 public:
  explicit Reconnector(BrokerOptions options) : options_(std::move(options)), rng_(std::random_device{}()) {}
  // The first connection, for at most options.retryFor.
  template <typename T>
  std::unique_ptr<T> connect(const Opener<T>& opener) {
    return open(opener, options_.retryFor, "connecting to the broker", "--retry-seconds");
  }
  // A new connection after a working one broke, for at most options.reconnectFor.
  template <typename T>
  std::unique_ptr<T> reconnect(const Opener<T>& opener) {
    return open(opener, options_.reconnectFor, "reconnecting to the broker", "--reconnect-seconds");
  }
  const BrokerOptions& options() const { return options_; }

 private:
  template <typename T>
  std::unique_ptr<T> open(const Opener<T>& opener, std::chrono::milliseconds window, const char* what,
                          const char* flag);

  BrokerOptions options_;
  size_t next_ = 0;  // the URL to try first: the one that worked last
  std::mt19937 rng_;
};

// Publishes through an inner publisher and keeps a copy of every message until it is confirmed.
// When the connection breaks (ConnectionError), it reconnects (options.reconnectFor) and
// republishes everything unconfirmed, in order. A message the broker refused (nack, returned,
// Redis error reply) is retried on a fresh connection (which declares the queue again), after a
// backoff (kRefusedBackoff doubling to kMaxRefusedBackoff), until it was tried kMaxAttempts times
// and kRefusedRetryFor passed since its first refusal: a quorum queue nacks while it elects a new
// leader after its node died. Sequence numbers stay those of the caller's publish() calls across
// reconnects.
class ReconnectingPublisher final : public Publisher {
 public:
  static constexpr int kMaxAttempts = 3;
  static constexpr std::chrono::milliseconds kRefusedRetryFor{60'000};
  static constexpr std::chrono::milliseconds kRefusedBackoff{250};
  static constexpr std::chrono::milliseconds kMaxRefusedBackoff{5'000};
  ReconnectingPublisher(const BrokerOptions& options, Opener<Publisher> opener);

  uint64_t publish(const Message& message) override;
  uint64_t publishShared(const std::shared_ptr<const Message>& message) override;
  size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) override;
  size_t unconfirmed() const override { return unsettled_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  struct Pending {
    std::shared_ptr<const Message> message;  // kept until settled, for resending; shared with the caller
    int attempts = 0;
    Clock::time_point firstRefused{};
    bool settled = false;  // confirmed, or failed for good: only waits to leave the front
  };
  // Refused records seen by settle(): resent on a fresh connection.
  struct Refused {
    size_t count = 0;
    std::string reason;
  };
  void sendOnCurrent(uint64_t seq);
  void reconnectAndResend(const std::string& why);
  void settle(const ConfirmRange& inner, std::vector<ConfirmRange>& out, Refused& refused);
  bool retryRefused(Pending& p);
  void backOffBeforeResending();

  Reconnector reconnector_;
  Opener<Publisher> opener_;
  std::unique_ptr<Publisher> inner_;
  std::deque<Pending> pending_;  // our sequence numbers base_, base_ + 1, ...
  uint64_t base_ = 1;
  size_t unsettled_ = 0;
  // Our sequence numbers in the order they were sent on the current connection, whose own
  // sequence numbers are consecutive from sentBase_.
  std::deque<uint64_t> sent_;
  uint64_t sentBase_ = 1;
  uint64_t nextSeq_ = 1;
  uint64_t reconnects_ = 0;
  std::chrono::milliseconds refusedBackoff_{0};  // grows while refusals follow each other
  std::vector<ConfirmRange> innerConfirms_;
};

// Consumes through an inner consumer; when the connection breaks it reconnects
// (options.reconnectFor) and goes on. Deliveries get tags of their own, increasing across
// connections. Deliveries of a broken connection cannot be acked any more: the broker gives them
// again (at-least-once), so acks for them are dropped and counted in lostAcks().
class ReconnectingConsumer final : public Consumer {
 public:
  ReconnectingConsumer(const BrokerOptions& options, Opener<Consumer> opener);

  size_t receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) override;
  void ackUpTo(uint64_t tag) override;
  bool stopForHandBack(std::vector<Delivery>& pushedAhead) override;
  void close() noexcept override;
  uint64_t reconnects() const { return reconnects_; }
  uint64_t lostAcks() const { return lostAcks_; }

 private:
  void reconnect(const std::string& why);
  void ourTags(std::vector<Delivery>& out, size_t from);

  Reconnector reconnector_;
  Opener<Consumer> opener_;
  std::unique_ptr<Consumer> inner_;
  std::deque<std::pair<uint64_t, uint64_t>> unacked_;  // (our tag, inner tag) on the current connection
  uint64_t nextTag_ = 1;
  uint64_t currentFirstTag_ = 1;  // our tags below this belong to broken connections
  uint64_t reconnects_ = 0;
  uint64_t lostAcks_ = 0;
};

}  // namespace logship
