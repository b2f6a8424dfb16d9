#pragma once
// A broker in memory for unit tests of pure logic (the shipper, the inputs, the collector's
// decisions): FakePublisher and FakeConsumer implement the real Publisher and Consumer interfaces
// (broker/publisher.hpp, broker/consumer.hpp), do what the test scripted and record what they were
// asked. They stand in for no broker behaviour: the adapters are tested against real brokers
// (tests/integration, tests/e2e).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

namespace logship::testing {

// What the FakePublishers made from it are told, and how they answer. Shared by every publisher
// made from it (a reconnect makes a new one), and safe from several threads (the shipper publishes
// from its own): hold `mu` to read or change it while they may run.
struct PublishScript {
  std::mutex mu;
  std::vector<Message> published;  // every message published, in order: sequence number i + 1
  uint64_t released = UINT64_MAX;  // messages 1..released get their confirm; the others wait for it
  uint64_t refusedSeq = 0;         // the broker refuses this message (nack) once released; 0: none
  std::string publishError;        // non-empty: publish() throws ConnectionError with it
  int publishers = 0;              // FakePublishers made from it
};

// The values of header `key` of the messages published, in order (messages without it left out).
inline std::vector<std::string> headerValues(PublishScript& s, std::string_view key) {
  std::lock_guard lock(s.mu);
  std::vector<std::string> values;
  for (const Message& m : s.published) {
    for (const Header& h : m.headers) {
      if (h.key == key) values.push_back(h.value);
    }
  }
  return values;
}

inline std::vector<std::string> publishedBodies(PublishScript& s) {
  std::lock_guard lock(s.mu);
  std::vector<std::string> bodies;
  for (const Message& m : s.published) bodies.push_back(m.body);
  return bodies;
}

// Sequence numbers count the messages of its script (1, 2, 3 ...), whichever publisher sent them.
class FakePublisher final : public Publisher {
 public:
  explicit FakePublisher(PublishScript& s) : s_(s) {
    std::lock_guard lock(s_.mu);
    ++s_.publishers;
    confirmed_ = s_.published.size();
  }
  uint64_t publish(const Message& m) override {
    std::lock_guard lock(s_.mu);
    if (!s_.publishError.empty()) throw ConnectionError(s_.publishError);
    s_.published.push_back(m);
    return s_.published.size();
  }
  // Confirms what the script released; waits (polling the script) until at most `maxUnconfirmed`
  // are left or `deadline` passes.
  size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) override {
    for (;;) {
      {
        std::lock_guard lock(s_.mu);
        while (confirmed_ < std::min<uint64_t>(s_.released, s_.published.size())) {
          ++confirmed_;
          const bool ok = confirmed_ != s_.refusedSeq;
          out.push_back({confirmed_, confirmed_, ok, ok ? "" : "refused by the script"});
        }
        if (unconfirmedLocked() <= maxUnconfirmed || Clock::now() >= deadline) return unconfirmedLocked();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  size_t unconfirmed() const override {
    std::lock_guard lock(s_.mu);
    return unconfirmedLocked();
  }

 private:
  size_t unconfirmedLocked() const { return s_.published.size() - confirmed_; }
  PublishScript& s_;
  uint64_t confirmed_;
};

// A factory for any of the places that open publishers (the shipper's PublisherConnect, the
// collector's PublisherFactory): each call makes a FakePublisher of `s`.
inline auto fakePublishers(PublishScript& s) {
  return [&s](auto&&...) -> std::unique_ptr<Publisher> { return std::make_unique<FakePublisher>(s); };
}

// Hands out the deliveries pushed to it, in order, and records the acks. Not thread-safe (as a
// real consumer).
class FakeConsumer final : public Consumer {
 public:
  // Tag 0 gets the next tag (1, 2, 3 ...).
  void push(Delivery d) {
    d.tag = d.tag != 0 ? d.tag : ++lastTag_;
    lastTag_ = std::max(lastTag_, d.tag);
    script_.push_back(std::move(d));
  }
  // A delivery with this body and headers, redelivered (the broker's flag) or not, with this many
  // earlier failures the broker reports and the message does not record (Delivery::unrecordedFailures).
  void push(std::string body, std::vector<Header> headers = {}, bool redelivered = false,
            uint32_t unrecordedFailures = 0) {
    Delivery d;
    d.body = std::move(body);
    d.headers = std::move(headers);
    d.redelivered = redelivered;
    d.unrecordedFailures = unrecordedFailures;
    push(std::move(d));
  }

  // Set by the test:
  size_t prefetch = 0;  // at most this many handed out and not acked (0: no limit), as a broker's
  // Called by receive() when it has nothing to hand out (all handed out, or at the prefetch): to
  // stop the collector, change the world between two calls, or throw (a lost connection).
  std::function<void()> whenIdle;
  // Called by ackUpTo(tag) before it is recorded: to look at the output at that moment.
  std::function<void(uint64_t tag)> onAck;
  // stopForHandBack: true: the caller gives the deliveries back (RabbitMQ), false: the consumer
  // puts them back itself (Redis).
  bool callerGivesBack = false;

  // Recorded:
  std::vector<uint64_t> acks;  // the tag of every ackUpTo, in order
  uint64_t acked() const { return acks.empty() ? 0 : acks.back(); }
  std::vector<uint64_t> receiveMaxima;  // the `max` of every receive
  int handBacks = 0;                    // stopForHandBack calls
  bool closed = false;

  size_t receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds) override {
    receiveMaxima.push_back(max);
    size_t room = max;
    if (prefetch > 0) room = std::min(room, prefetch - std::min(prefetch, unacked()));
    const size_t n = std::min(room, script_.size() - next_);
    if (n == 0) {
      if (whenIdle) whenIdle();
      return 0;
    }
    const auto first = script_.begin() + static_cast<std::ptrdiff_t>(next_);
    std::copy(first, first + static_cast<std::ptrdiff_t>(n), std::back_inserter(out));
    next_ += n;
    return n;
  }
  void ackUpTo(uint64_t tag) override {
    if (onAck) onAck(tag);
    acks.push_back(tag);
  }
  // With callerGivesBack, the deliveries not handed out yet are the ones the broker pushed ahead.
  bool stopForHandBack(std::vector<Delivery>& pushedAhead) override {
    ++handBacks;
    if (!callerGivesBack) return false;
    std::copy(script_.begin() + static_cast<std::ptrdiff_t>(next_), script_.end(), std::back_inserter(pushedAhead));
    next_ = script_.size();
    return true;
  }
  void close() noexcept override { closed = true; }

  // Handed out and not acked.
  size_t unacked() const {
    return static_cast<size_t>(std::count_if(script_.begin(), script_.begin() + static_cast<std::ptrdiff_t>(next_),
                                             [this](const Delivery& d) { return d.tag > acked(); }));
  }

 private:
  std::vector<Delivery> script_;
  size_t next_ = 0;  // script_[next_...] are not handed out yet
  uint64_t lastTag_ = 0;
};

}  // namespace logship::testing
