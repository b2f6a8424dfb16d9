#pragma once
#include <atomic>
#include <deque>
#include <string>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/redis/connection.hpp"
#include "broker/redis/keys.hpp"
#include "core/repeated_lines.hpp"

namespace logship::redis {

// The reliable-queue pattern over Redis lists (docs/ARCHITECTURE.md):
//   take    LMOVE queue -> this consumer's processing list, in a script that checks the lease first
//           (BLMOVE queue queue only waits for a record; it moves nothing)
//   ack     LTRIM the written records off the head of the processing list
//   lease   a key with a TTL, refreshed on every take and ack; while it lives nobody touches the list
//   recover a processing list whose lease expired goes back to the head of the queue, in order
// The processing list is named after a stable consumer id, so a restart with the same id puts its
// own unfinished records back at once. Every live consumer recovers dead ones periodically.
class RedisConsumer final : public Consumer {
 public:
  RedisConsumer(const BrokerOptions& options, const ConsumerOptions& consumer);
  ~RedisConsumer() override { close(); }

  size_t receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) override;
  void ackUpTo(uint64_t tag) override;
  bool stopForHandBack(std::vector<Delivery>& pushedAhead) override;
  void close() noexcept override;

 private:
  void acquireLease();
  // counted: each record counts one failed delivery (recoverScript()); else they go back as they are.
  void putBackOwn(const char* why, bool release, bool counted = true);
  void recoverOthers();
  size_t take(size_t max, std::vector<Delivery>& out);
  void deliver(const redisReply& value, std::vector<Delivery>& out);
  void noteLeaseLost(int64_t listLength);
  // How many deliveries after settledThrough_ up to `through` are in the processing list: all
  // but those kTakeScript moved to the dead list itself (deadTags_).
  uint64_t inProcessingList(uint64_t through) const;
  void settle(uint64_t through);  // deliveries up to `through` are out of the processing list

  RedisConnection conn_;
  QueueKeys keys_;
  std::string id_;
  std::string processing_;
  std::string lease_;
  std::string token_;  // "<host> <pid> <nonce>": the lease's value while we hold it
  std::string host_;
  std::string ttlMs_;
  std::chrono::milliseconds leaseTtl_;
  size_t prefetch_;
  std::chrono::milliseconds blockLimit_;
  const std::atomic<bool>* stopRequested_;
  uint64_t nextTag_ = 1;
  uint64_t settledThrough_ = 0;    // deliveries up to here are no longer in the processing list
  std::deque<uint64_t> deadTags_;  // later deliveries that never were: kTakeScript dead-lettered them
  std::string deadList_;
  std::string maxBodyBytes_;         // ConsumerOptions::maxBodyBytes ("0": no limit)
  std::string deadItemsBeforeSize_;  // kTakeScript's dead-letter header items, around the size
  std::string deadItemsAfterSize_;
  RepeatedLines leaseLines_;  // "our lease ... expired": once per take or ack after a takeover, so once per burst
  Clock::time_point nextRecovery_{};
  bool closed_ = false;
  std::string error_;
};

}  // namespace logship::redis
