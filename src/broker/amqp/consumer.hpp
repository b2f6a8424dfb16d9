#pragma once
#include "broker/amqp/connection.hpp"
#include "broker/consumer.hpp"

namespace logship::amqp {

// Set by quorum queues on a redelivery: how many times the message was returned before.
inline constexpr std::string_view kDeliveryCountHeader = "x-delivery-count";

// Moves a delivered message into `d`: tag, body, headers (x-delivery-count dropped and counted in
// unrecordedFailures), redelivered, timestamp. Does not destroy the envelope.
void toDelivery(const amqp_envelope_t& envelope, Delivery& d);
// The same from a basic.deliver's tag and flag and its content header's properties (no body).
void toDelivery(uint64_t tag, bool redelivered, const amqp_basic_properties_t& props, Delivery& d);

// basic.consume with manual acks and basic.qos(prefetch) on channel 1. A cancel from the broker, or
// its node going down, is a ConnectionError (the reconnecting consumer subscribes again, on the
// next --broker node) unless the queue was deleted (BrokerRefusedError).
class AmqpConsumer final : public Consumer {
 public:
  AmqpConsumer(const BrokerOptions& options, const ConsumerOptions& consumerOptions);
  ~AmqpConsumer() override { close(); }

  size_t receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) override;
  void ackUpTo(uint64_t tag) override;
  bool stopForHandBack(std::vector<Delivery>& pushedAhead) override;
  void close() noexcept override;

 private:
  // Returns false on timeout.
  bool receiveOne(std::vector<Delivery>& out, timeval* timeout);
  // After a basic.deliver: reads its content header and body frames into `d`; a body over
  // maxBodyBytes_ is skipped frame by frame (one frame in memory at a time).
  void readContent(Delivery& d);
  // A method frame other than basic.deliver: throws for a cancel or close, else ignores it.
  void otherMethod(const amqp_frame_t& frame);
  void declareDeadLetterQueue();
  // After a basic.cancel from the broker: BrokerRefusedError if the queue is gone, else
  // ConnectionError (subscribe again).
  [[noreturn]] void cancelledByBroker();

  static constexpr amqp_channel_t kDeadLetterChannel = 2;
  static constexpr amqp_channel_t kCheckChannel = 3;

  AmqpConnection conn_;
  std::string queue_;
  std::string consumerTag_;
  size_t maxBodyBytes_ = 0;
  std::vector<Delivery> early_;  // read while the caller asked for none (receive with max 0)
};

}  // namespace logship::amqp
