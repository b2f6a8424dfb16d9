#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/options.hpp"
#include "core/message.hpp"

namespace logship {

// The outcome of published messages [first, last] (sequence numbers from Publisher::publish).
// ok == true is the broker's promise that it has the messages: for persistent messages in a
// durable queue, written to disk (classic queue) or to a quorum of nodes (quorum queue).
// ok == false means the broker did NOT take them (nack, unroutable); `reason` says why.
struct ConfirmRange {
  uint64_t first = 0;
  uint64_t last = 0;
  bool ok = true;
  std::string reason;
};

// Where a publisher's messages go, and so what it declares before its first publish.
enum class PublishRoute {
  // New records (log_producer): `logctl tail` sees them too. RabbitMQ: through the queue's topic
  // exchange with routing key <service>.<level> (broker/amqp/topology.hpp); Redis: RPUSH, plus a
  // PUBLISH to the queue's tail channel while a tail subscribes. Declares the queue's topology.
  Live,
  // Records an aggregator sends back to their queue (a redelivery with its failures counted):
  // straight into the queue (RabbitMQ: default exchange, routing key = queue), unseen by tails, which
  // showed them when they were new. Declares the queue's topology.
  Direct,
  // Dead letters: straight into a dead-letter queue, declared alone (durable, no arguments, no exchange).
  DeadLetter,
};

// Sends messages to one queue with publisher confirms. Not thread-safe.
class Publisher {
 public:
  virtual ~Publisher() = default;

  // Sends `message` as a persistent message and returns its sequence number (1, 2, 3, ...).
  // Returning means "sent", not "accepted": only a ConfirmRange with ok == true means accepted.
  // Throws ConnectionError / BrokerRefusedError when the connection fails.
  virtual uint64_t publish(const Message& message) = 0;
  // The same for a message the caller shares: a publisher that keeps messages for resending (the
  // reconnecting one) keeps this one instead of a copy. By default it is published as above.
  virtual uint64_t publishShared(const std::shared_ptr<const Message>& message) { return publish(*message); }

  // Reads confirms from the broker until at most `maxUnconfirmed` messages are still waiting or
  // `deadline` passes, appending outcomes to `out`. Always services the connection once (heartbeats)
  // even when nothing is waiting. Returns the number still unconfirmed. Throws like publish().
  virtual size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) = 0;

  virtual size_t unconfirmed() const = 0;
};

}  // namespace logship
