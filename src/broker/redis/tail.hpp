#pragma once
#include <string>
#include <vector>

#include "broker/redis/connection.hpp"
#include "broker/tail.hpp"

namespace logship::redis {

// logctl tail over Redis: SUBSCRIBE to the queue's tail channel (QueueKeys::tail), into which the
// producers PUBLISH every value they RPUSH while it has subscribers (RedisPublisher). Redis filters
// nothing: every message arrives, the caller keeps what its filters select. A subscriber that reads
// too slowly is disconnected by the server once its output buffer passes client-output-buffer-limit
// pubsub (32 MB, or 8 MB for 60 s, by default): receive() then throws ConnectionError.
class RedisTail final : public TailSubscription {
 public:
  RedisTail(const BrokerOptions& broker, const TailOptions& options);

  size_t receive(std::vector<Delivery>& out, std::chrono::milliseconds timeout) override;
  std::string describe() const override;

 private:
  bool deliver(const redisReply& reply, std::vector<Delivery>& out);

  RedisConnection conn_;
  std::string channel_;
  size_t maxPerReceive_;
  uint64_t nextTag_ = 1;
  std::string error_;
};

}  // namespace logship::redis
