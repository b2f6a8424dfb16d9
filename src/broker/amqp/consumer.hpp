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

// The queues a consumer of log queue `queue` consumes: the queue itself, or (shards > 0) the shards
// `ids` (empty: all), as <queue>.shard.<id>.
std::vector<std::string> consumedQueues(const std::string& queue, uint32_t shards, const std::vector<uint32_t>& ids);

// basic.consume with manual acks and basic.qos(prefetch) on channel 1: one consumer, or one per
// shard consumed (BrokerOptions::shards, ConsumerOptions::shardIds), all on that channel.
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

  AmqpConnection conn_;
  std::string queue_;                      // the log queue (named in messages)
  std::vector<std::string> queues_;         // the queues consumed: queue_, or shards of it
  std::vector<std::string> consumerTags_;   // one per queues_ entry
  size_t maxBodyBytes_ = 0;
  std::vector<Delivery> early_;  // read while the caller asked for none (receive with max 0)
};

}  // namespace logship::amqp
