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
//
// With BrokerOptions::waitReplicas N > 0, each awaitConfirms() that sent pushes ends its pipeline
// with `WAIT N TIMEOUT`; the pushes before it are confirmed only when its reply counts at least N
// replicas (they then survive the master's loss unless those N replicas are lost too). Fewer is
// thrown as ConnectionError: the reconnecting publisher sends them again (duplicates, which the
// aggregators' id journal drops).
//
// PublishRoute::Live also shows the messages to `logctl tail`: while the queue's tail channel
// (QueueKeys::tail) has subscribers, each pushed value is PUBLISHed there too, in the same pipeline
// right after its RPUSH. Whether it has any is asked (PUBSUB NUMSUB, also pipelined) at most once a
// second while messages are sent, so a queue nobody tails costs one small command a second.
class RedisPublisher final : public Publisher {
 public:
  static constexpr std::chrono::milliseconds kSubscriberCheckInterval{1000};
  RedisPublisher(const BrokerOptions& options, std::string queue, PublishRoute route = PublishRoute::Direct);

  uint64_t publish(const Message& message) override;
  size_t awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) override;
  size_t unconfirmed() const override { return nextSeq_ - 1 - confirmedThrough_; }

 private:
  static constexpr size_t kMaxValuesPerPush = 512;
  static constexpr size_t kMaxBytesPerPush = 1 << 20;
  void sendBuffered();
  void settle(const redisReply& reply, std::vector<ConfirmRange>& out);
  void readSubscriberCount(const redisReply& reply);
  void appendWait();
  void settleWait(const redisReply& reply, std::vector<ConfirmRange>& out);
  static void addRange(ConfirmRange range, std::vector<ConfirmRange>& out);

  RedisConnection conn_;
  std::string queue_;
  bool live_ = false;
  std::string tailChannel_;
  long long tailSubscribers_ = 0;  // as of the last PUBSUB NUMSUB reply
  Clock::time_point nextSubscriberCheck_{};
  bool warnedMirror_ = false;
  // Encoded values not yet sent, back to back in one buffer (no allocation per record once warm).
  std::string buffered_;
  std::vector<size_t> bufferedEnds_;  // where each value ends in buffered_
  std::string scratch_;
  std::vector<std::string_view> args_;
  // A pipelined command whose reply is still due.
  struct Sent {
    enum class Kind { Push, Mirror, SubscriberCount, Wait } kind;
    uint64_t first = 0;  // Push: the sequence numbers of its values
    uint64_t last = 0;
  };
  std::deque<Sent> inFlight_;  // oldest first
  uint64_t nextSeq_ = 1;
  uint64_t confirmedThrough_ = 0;
  // --wait-replicas: pushes answered by the master, waiting for their WAIT's reply.
  int waitReplicas_ = 0;
  std::string waitTimeoutMs_;
  uint64_t sentThrough_ = 0;    // the last sequence number pushed
  uint64_t waitedThrough_ = 0;  // the last one a WAIT was sent for
  std::vector<ConfirmRange> heldForWait_;
};

}  // namespace logship::redis
