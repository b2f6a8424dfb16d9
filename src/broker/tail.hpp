#pragma once
// `logctl tail`'s side of the broker: a live copy of the records that producers send
// (PublishRoute::Live), which never takes anything from the queue and its aggregators.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/options.hpp"
#include "core/level.hpp"

namespace logship {

struct TailOptions {
  std::string queue = "logs_queue";
  // What the broker may leave out: the records of other services (empty: every service) and below
  // minLevel. A subscription may still deliver more (Redis delivers everything): filter the records.
  std::vector<std::string> services;
  Level minLevel = Level::Trace;
  // RabbitMQ: the most messages, and bytes of message bodies, that the tail's own queue keeps for a
  // tail that falls behind; beyond either, the broker drops the oldest (x-overflow drop-head). With
  // the prefetch (delivered, not yet acknowledged) this bounds what a stalled tail costs the broker.
  uint32_t maxBacklog = 1000;
  uint64_t maxBacklogBytes = 16 * 1024 * 1024;
  uint16_t prefetch = 100;
  // RabbitMQ: how often the tail checks that the queue still exists (see AmqpTail).
  std::chrono::milliseconds queueCheckInterval{1000};
};

// A subscription to the records sent to one queue. Not thread-safe.
//  - RabbitMQ (amqp/tail.hpp): an exclusive, auto-delete, server-named queue bound to the queue's
//    topic exchange with keys from the filters (broker/amqp/topology.hpp), capped by maxBacklog.
//    The broker deletes it when the connection closes.
//  - Redis (redis/tail.hpp): SUBSCRIBE to the queue's tail channel, into which producers PUBLISH
//    every message they push while someone subscribes. The server's client-output-buffer-limit for
//    pub/sub clients caps what a stalled tail costs: beyond it the server disconnects the tail.
class TailSubscription {
 public:
  virtual ~TailSubscription() = default;
  // Waits up to `timeout` for a first message, then appends whatever else is already here (each a
  // whole message: a batch holds many records). Returns how many were appended. Throws
  // ConnectionError when the subscription is lost (the connection broke; Redis: also when the
  // server dropped a subscriber that fell too far behind), BrokerRefusedError when refused.
  virtual size_t receive(std::vector<Delivery>& out, std::chrono::milliseconds timeout) = 0;
  // Completes, for at most `limit`, what must not be abandoned when the tail stops (RabbitMQ: putting
  // back records after the log queue was deleted, see amqp/tail.hpp). What arrives meanwhile is not
  // shown. Call before dropping the subscription.
  virtual void finish(std::chrono::milliseconds /*limit*/) {}
  // One line saying what is subscribed where, e.g. "queue 'amq.gen-...' bound to exchange 'logs'
  // with '#.error', '#.fatal'".
  virtual std::string describe() const = 0;
};

// Subscribes (retrying an unreachable broker for broker.retryFor, every URL in turn).
std::unique_ptr<TailSubscription> makeTail(const BrokerOptions& broker, const TailOptions& options);

}  // namespace logship
