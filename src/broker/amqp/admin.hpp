#pragma once
#include "broker/admin.hpp"
#include "broker/amqp/connection.hpp"

namespace logship::amqp {

class AmqpAdmin final : public Admin {
 public:
  explicit AmqpAdmin(const BrokerOptions& options);
  void declareTopology(const std::string& queue) override;
  QueueStats queueStats(const std::string& queue) override;
  std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string&) override { return std::nullopt; }

 private:
  BrokerOptions options_;
  AmqpConnection conn_;
  amqp_channel_t channel_ = 1;
};

}  // namespace logship::amqp
