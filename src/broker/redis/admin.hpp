#pragma once
#include "broker/admin.hpp"
#include "broker/redis/connection.hpp"

namespace logship::redis {

// Redis needs no declarations (a list exists once it holds a record): declareTopology checks
// that the keys are lists or absent. Stats come from LLEN and the consumer registry.
class RedisAdmin final : public Admin {
 public:
  explicit RedisAdmin(const BrokerOptions& options);
  std::string declareTopology(const std::string& queue) override;
  QueueStats queueStats(const std::string& queue) override;
  std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string& queue) override;
  void peekDeadLetters(const std::string& queue, const DeadLetterVisitor& visit) override;
  uint64_t requeueDeadLetters(const std::string& queue, const DeadLetterVisitor& select, uint64_t limit) override;
  uint64_t purgeDeadLetters(const std::string& queue) override;

 private:
  void requireList(const std::string& key);
  std::vector<std::string> consumerIds(const std::string& queue);
  // Reads the dead letters of `queue` from position `seen` + 1 on, a page at a time, `bound` at
  // most, calling `visit(dead letter, the list value)`; it returns how many values it removed from
  // the list, and false to stop.
  void scanDeadLetters(const std::string& queue, uint64_t bound,
                       const std::function<bool(const DeadLetter&, std::string_view, uint64_t&)>& visit);
  // The lease of `leaseKey` when a process of this host that is gone holds it, else "".
  std::string goneHoldersLease(const std::string& leaseKey);

  BrokerOptions options_;
  RedisConnection conn_;
  std::string host_;
};

}  // namespace logship::redis
