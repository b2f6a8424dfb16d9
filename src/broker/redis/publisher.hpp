#pragma once
#include <deque>
#include <string>
#include <vector>

#include "broker/publisher.hpp"
#include "broker/redis/connection.hpp"

namespace logship::redis {

// Appends messages to the tail of a Redis list (RPUSH), many values per command and many commands
// in flight (pipelining). A message counts as confirmed when Redis answered its RPUSH: it is then
// in the server's memory and, with appendonly yes, in its AOF (fsynced per `appendfsync`).
class RedisPublisher final : public Publisher {
 public:
  RedisPublisher(const BrokerOptions& options, std::string queue);

  uint64_t publish(const Message& message) override;
  size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) override;
  size_t unconfirmed() const override { return nextSeq_ - 1 - confirmedThrough_; }

 private:
  static constexpr size_t kMaxValuesPerPush = 512;
  static constexpr size_t kMaxBytesPerPush = 1 << 20;
  void sendBuffered();
  void settle(const redisReply& reply, std::vector<ConfirmRange>& out);

  RedisConnection conn_;
  std::string queue_;
  // Encoded values not yet sent, back to back in one buffer (no allocation per record once warm).
  std::string buffered_;
  std::vector<size_t> bufferedEnds_;  // where each value ends in buffered_
  std::string scratch_;
  std::vector<std::string_view> args_;
  struct Push {
    uint64_t first;
    uint64_t last;
  };
  std::deque<Push> inFlight_;  // RPUSH commands sent, oldest first
  uint64_t nextSeq_ = 1;
  uint64_t confirmedThrough_ = 0;
};

}  // namespace logship::redis
