#pragma once
#include "broker/admin.hpp"
#include "broker/redis/connection.hpp"

namespace logship::redis {

// Redis needs no declarations (a list exists once it holds a record): declareTopology checks
// that the keys are lists or absent. Stats come from LLEN and the consumer registry.
class RedisAdmin final : public Admin {
 public:
  explicit RedisAdmin(const BrokerOptions& options);
  void declareTopology(const std::string& queue) override;
  QueueStats queueStats(const std::string& queue) override;
  std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string& queue) override;

 private:
  void requireList(const std::string& key);
  std::vector<std::string> consumerIds(const std::string& queue);
  // The lease of `leaseKey` when a process of this host that is gone holds it, else "".
  std::string goneHoldersLease(const std::string& leaseKey);

  RedisConnection conn_;
  std::string host_;
};

}  // namespace logship::redis
