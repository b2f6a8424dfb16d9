#include "broker/redis/publisher.hpp"

#include <fmt/format.h>

#include "broker/redis/envelope.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {

RedisPublisher::RedisPublisher(const BrokerOptions& options, std::string queue)
    : conn_(RedisConnection::open(options)), queue_(std::move(queue)) {
  // Fail at once, not at the first confirm, when the key is something other than a list.
  Reply type = conn_.command({"TYPE", queue_}, fmt::format("checking '{}'", escaped(queue_)));
  const std::string_view t = replyText(*type);
  if (t != "list" && t != "none") {
    throw BrokerRefusedError(0, fmt::format("Redis key '{}' is a {}, not a list: cannot use it as a queue",
                                            escaped(queue_), escaped(t)));
  }
}

uint64_t RedisPublisher::publish(const Message& message) {
  encodeEnvelope(message, scratch_);
  buffered_ += scratch_;
  bufferedEnds_.push_back(buffered_.size());
  const uint64_t seq = nextSeq_++;  // before sendBuffered(), which numbers the values it sends
  if (bufferedEnds_.size() >= kMaxValuesPerPush || buffered_.size() >= kMaxBytesPerPush) sendBuffered();
  return seq;
}

void RedisPublisher::sendBuffered() {
  if (bufferedEnds_.empty()) return;
  args_.clear();
  args_.emplace_back("RPUSH");
  args_.emplace_back(queue_);
  size_t start = 0;
  for (const size_t end : bufferedEnds_) {
    args_.emplace_back(std::string_view(buffered_).substr(start, end - start));
    start = end;
  }
  conn_.append(args_);
  conn_.flush(fmt::format("sending records to '{}'", escaped(queue_)));
  const uint64_t last = nextSeq_ - 1;
  inFlight_.push_back({last - bufferedEnds_.size() + 1, last});
  buffered_.clear();
  bufferedEnds_.clear();
}

void RedisPublisher::settle(const redisReply& reply, std::vector<ConfirmRange>& out) {
  const Push push = inFlight_.front();
  inFlight_.pop_front();
  confirmedThrough_ = push.last;
  ConfirmRange range{push.first, push.last, true, {}};
  if (reply.type == REDIS_REPLY_ERROR) {
    range.ok = false;
    range.reason = fmt::format("Redis refused RPUSH to '{}': {}", escaped(queue_), escaped(replyText(reply)));
  } else if (reply.type != REDIS_REPLY_INTEGER) {
    range.ok = false;
    range.reason = fmt::format("unexpected reply type {} to RPUSH", reply.type);
  }
  if (!out.empty() && out.back().ok && range.ok && out.back().last + 1 == range.first) {
    out.back().last = range.last;
  } else {
    out.push_back(std::move(range));
  }
}

size_t RedisPublisher::awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline,
                                     std::vector<ConfirmRange>& out) {
  sendBuffered();
  const std::string what = fmt::format("waiting for Redis to take records for '{}'", escaped(queue_));
  while (!inFlight_.empty()) {
    std::chrono::milliseconds wait{0};
    if (unconfirmed() > maxUnconfirmed) {
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    }
    Reply reply = conn_.tryRead(wait, what);
    if (!reply) break;
    settle(*reply, out);
  }
  return unconfirmed();
}

}  // namespace logship::redis
