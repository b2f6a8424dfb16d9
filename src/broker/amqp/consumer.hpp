#pragma once
#include "broker/amqp/connection.hpp"
#include "broker/consumer.hpp"

namespace logship::amqp {

// Set by quorum queues on a redelivery: how many times the message was returned before.
inline constexpr std::string_view kDeliveryCountHeader = "x-delivery-count";
// Set by a stream on every delivery: the message's offset in the stream (a signed long). Also the
// basic.consume argument that says where a stream consumer starts.
inline constexpr std::string_view kStreamOffsetHeader = "x-stream-offset";

// Moves a delivered message into `d`: tag, body, headers (x-delivery-count dropped and counted in
// unrecordedFailures), redelivered, timestamp. Does not destroy the envelope.
void toDelivery(const amqp_envelope_t& envelope, Delivery& d);
// The same from a basic.deliver's tag and flag and its content header's properties (no body).
void toDelivery(uint64_t tag, bool redelivered, const amqp_basic_properties_t& props, Delivery& d);

// The queues a consumer of log queue `queue` consumes: the queue itself, or (shards > 0) the shards
// `ids` (empty: all), as <queue>.shard.<id>.
std::vector<std::string> consumedQueues(const std::string& queue, uint32_t shards, const std::vector<uint32_t>& ids);

// basic.consume with manual acks and basic.qos(prefetch) on channel 1: one consumer, or one per
// shard consumed (BrokerOptions::shards, ConsumerOptions::shardIds), all on that channel (a sharded queue is never a
// stream). With ConsumerOptions::stream, a queue that is a stream (RabbitMQ 3.10 accepts x-stream-offset on
// basic.consume from a stream only: asked on channel 4, which consumes nothing) is read as one: it is
// not declared (it exists), the consume starts at the stream position, and each delivery carries its
// offset (Delivery::streamOffset); acks only give the broker credit for more.
// A cancel from the broker, or its node going down, is a ConnectionError (the reconnecting consumer
// subscribes again, on the next --broker node) unless the queue was deleted (BrokerRefusedError).
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
  // True if queue_ exists and is a stream (asked on channel 4, see the class comment).
  bool queueIsStream();
  // basic.consume on channel 1 of every queue in queues_ (with x-stream-offset from stream_ when
  // reading a stream).
  void consume();
  void consumeOne(const std::string& queue);
  // Moves stream_->next past the stream deliveries out[from...] handed out.
  void advanceStream(const std::vector<Delivery>& out, size_t from);
  void declareDeadLetterQueue();
  // After a basic.cancel from the broker: BrokerRefusedError if the queue is gone, else
  // ConnectionError (subscribe again).
  [[noreturn]] void cancelledByBroker(const std::string& queue);

  static constexpr amqp_channel_t kDeadLetterChannel = 2;
  static constexpr amqp_channel_t kCheckChannel = 3;
  static constexpr amqp_channel_t kProbeChannel = 4;  // queueIsStream()

  AmqpConnection conn_;
  std::string queue_;                      // the log queue (named in messages)
  std::vector<std::string> queues_;        // the queues consumed: queue_, or shards of it
  std::vector<std::string> consumerTags_;  // one per queues_ entry
  size_t maxBodyBytes_ = 0;
  std::vector<Delivery> early_;             // read while the caller asked for none (receive with max 0)
  std::shared_ptr<StreamPosition> stream_;  // set while reading a stream
  std::optional<int64_t> expectedFirst_;    // the offset subscribed at: a first delivery past it means retention
};

}  // namespace logship::amqp
