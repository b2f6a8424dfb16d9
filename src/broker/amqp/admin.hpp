#pragma once
#include <memory>

#include "broker/admin.hpp"
#include "broker/amqp/connection.hpp"
#include "broker/amqp/management.hpp"

namespace logship::amqp {

// Over AMQP: declares (setup) and inspects (status) queues. queueStats asks the management API
// first (unacked counts and rates exist only there), with what a passive declare tells as the
// fallback, and for the fields the API has not sampled yet.
class AmqpAdmin final : public Admin {
 public:
  explicit AmqpAdmin(const BrokerOptions& options);
  ~AmqpAdmin() override;
  std::string declareTopology(const std::string& queue) override;
  QueueStats queueStats(const std::string& queue) override;
  std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string&) override { return std::nullopt; }
  void peekDeadLetters(const std::string& queue, const DeadLetterVisitor& visit) override;
  uint64_t requeueDeadLetters(const std::string& queue, const DeadLetterVisitor& select, uint64_t limit) override;
  uint64_t purgeDeadLetters(const std::string& queue) override;

 private:
  // basic.get of the next message of `queue`, unacknowledged. False when the queue is empty.
  // `remaining` is the broker's count of the messages after it.
  bool fetch(const std::string& queue, uint64_t& tag, uint64_t& remaining, Message& out);
  // Closes and reopens the channel: the broker puts back every message fetched and not acked.
  void returnFetched();
  QueueStats passiveStats(const std::string& queue);
  ManagementClient* management();  // null when disabled or found unusable (said so once)

  BrokerOptions options_;
  AmqpConnection conn_;
  amqp_channel_t channel_ = 1;
  std::unique_ptr<ManagementClient> management_;
  bool managementTried_ = false;
};

}  // namespace logship::amqp
