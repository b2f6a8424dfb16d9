#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/message.hpp"

namespace logship {

// One message handed to us by the broker. It stays the broker's responsibility until acked:
// if we die or disconnect first, the broker delivers it again (at-least-once).
struct Delivery {
  uint64_t tag = 0;  // broker-assigned, increasing within one consumer
  std::string body;
  std::vector<Header> headers;
  int64_t brokerTimestampUs = 0;  // the message's own timestamp property, 0 if it had none
  bool redelivered = false;       // the broker delivered it before (to us or another consumer)
  // Earlier deliveries of this message that ended without an ack and that its logship-deliveries
  // header (wire::kDeliveries) does not count yet. RabbitMQ: the larger of 1 if redelivered (all a
  // classic queue can say) and a quorum queue's x-delivery-count. Redis: always 0, because the
  // script that puts a dead consumer's records back counts them in the records themselves.
  // The collector sends such a delivery on with its count recorded (docs/RELIABILITY.md).
  uint32_t unrecordedFailures = 0;
  // The size of a body over ConsumerOptions::maxBodyBytes that was not read (`body` is empty); 0
  // when the body is here. RabbitMQ: the size its content header declares; the body frames were skipped.
  uint64_t droppedBodySize = 0;
  // Redis: the take script moved this message (droppedBodySize over the limit) to the dead list
  // itself, inside Redis, body and headers, with its kDeadReason and kDeadQueue: the delivery only
  // tells, to be counted and logged; it holds no place in the processing list. Ack it like others.
  bool movedToDeadLetters = false;
  // Set when the transport could not even split the message into body and headers (a malformed
  // Redis envelope): `body` then holds the raw bytes and the message is dead-lettered with this reason.
  std::string transportError;
  // RabbitMQ stream: this message's offset in the stream (its x-stream-offset header, taken out of
  // `headers`); -1 for a delivery from a queue. A stream never redelivers: the reader keeps its place.
  int64_t streamOffset = -1;
};

// Deliveries from one queue with manual acknowledgements. Not thread-safe.
class Consumer {
 public:
  virtual ~Consumer() = default;

  // Waits up to `timeout` for a first delivery, then appends whatever else is already available,
  // up to `max` in all. Returns how many were appended (0 on timeout). Throws ConnectionError /
  // BrokerRefusedError when the connection fails or the broker cancels the consumer.
  // A consumer never holds more than its prefetch of unacked deliveries: a caller that holds its
  // acks back may keep calling receive, which then takes nothing more but keeps the connection
  // alive (AMQP heartbeats, the Redis lease), and may return 0 before `timeout`. With `max` 0 it
  // takes nothing (over RabbitMQ, what arrives is kept for a later call) and only keeps the
  // connection alive.
  virtual size_t receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) = 0;

  // Acknowledges every delivery up to and including `tag`: call only once all of them are written
  // (or dead-lettered). The broker then forgets them.
  virtual void ackUpTo(uint64_t tag) = 0;

  // Gives the deliveries not acked back for a reason that is no failure of theirs (a clean stop,
  // an output that cannot be written), so that their next delivery counts no failed delivery
  // (docs/RELIABILITY.md, poison messages). Stops the broker's deliveries first. Either the
  // consumer puts them back itself, as they were, and returns false (Redis: its processing list
  // goes back to the head of the queue uncounted), or it returns true and appends to `pushedAhead`
  // the deliveries the broker had sent that receive() did not hand out yet: the caller must then
  // send those and the ones it holds back to the queue with their count of failed deliveries as it
  // is, and ack them once the broker confirmed the copies (RabbitMQ: a message requeued or left
  // unacked is always redelivered=true, which counts one failure). Over a broken connection
  // nothing can be given back: it returns false and the broker redelivers as after a crash.
  // Call close() after it; receive() may not be called any more.
  virtual bool stopForHandBack(std::vector<Delivery>& pushedAhead) = 0;

  // Stops consuming and closes the connection. Deliveries received but not acked go back to the
  // queue for another consumer. Safe to call twice.
  virtual void close() noexcept = 0;
};

}  // namespace logship
