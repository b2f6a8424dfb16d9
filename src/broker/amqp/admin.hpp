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
  void declareTopology(const std::string& queue) override;
  QueueStats queueStats(const std::string& queue) override;
  std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string&) override { return std::nullopt; }

 private:
  QueueStats passiveStats(const std::string& queue);
  ManagementClient* management();  // null when disabled or found unusable (said so once)

  BrokerOptions options_;
  AmqpConnection conn_;
  amqp_channel_t channel_ = 1;
  std::unique_ptr<ManagementClient> management_;
  bool managementTried_ = false;
};

}  // namespace logship::amqp
