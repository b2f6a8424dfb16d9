#pragma once
#include <deque>
#include <string>
#include <unordered_map>

#include "broker/amqp/connection.hpp"
#include "broker/amqp/headers.hpp"
#include "broker/publisher.hpp"

namespace logship::amqp {

// Publishes persistent, mandatory messages in confirm mode. PublishRoute::Live: to the queue's topic
// exchange with routing key <service>.<level> of each message (broker/amqp/topology.hpp); Direct and
// DeadLetter: to the default exchange with routing key = queue (exactly what the tutorial's pika
// producer does); with BrokerOptions::shards, Direct goes to the queue's consistent-hash exchange
// (broker/amqp/shards.hpp), which picks a shard. Each message gets the message-id
// "<instance>-<seq>" so that a basic.return can be matched to its sequence number, and a sharded
// queue's hash exchange spreads messages by it.
class AmqpPublisher final : public Publisher {
 public:
  AmqpPublisher(const BrokerOptions& options, std::string queue, PublishRoute route = PublishRoute::Direct);
  ~AmqpPublisher() override = default;

  uint64_t publish(const Message& message) override;
  size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) override;
  size_t unconfirmed() const override { return unconfirmed_; }

 private:
  void handleFrame(const amqp_frame_t& frame, std::vector<ConfirmRange>& out);
  void settle(uint64_t tag, bool multiple, bool ok, std::vector<ConfirmRange>& out);

  AmqpConnection conn_;
  std::string queue_;
  std::string exchange_;  // "" (the default exchange) unless Live
  bool live_ = false;
  std::string routingKey_;
  std::string instanceId_;
  HeaderTable headerTable_;
  std::string messageId_;
  uint64_t nextSeq_ = 1;
  uint64_t base_ = 1;         // sequence number of pending_.front()
  std::deque<bool> pending_;  // pending_[i]: seq base_+i still waits for its confirm
  size_t unconfirmed_ = 0;
  std::unordered_map<uint64_t, std::string> returned_;  // seq -> why the broker returned it
};

}  // namespace logship::amqp
