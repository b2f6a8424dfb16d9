#include "broker/redis/publisher.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/redis/envelope.hpp"
#include "broker/redis/keys.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {

RedisPublisher::RedisPublisher(const BrokerOptions& options, std::string queue, PublishRoute route)
    : conn_(RedisConnection::open(options)),
      queue_(std::move(queue)),
      live_(route == PublishRoute::Live),
      tailChannel_(QueueKeys(queue_).tail()),
      waitReplicas_(options.waitReplicas),
      waitTimeoutMs_(std::to_string(options.waitTimeout.count())) {
  // Fail at once, not at the first confirm, when the key is something other than a list.
  Reply type = conn_.command({"TYPE", queue_}, fmt::format("checking '{}'", escaped(queue_)));
  const std::string_view t = replyText(*type);
  if (t != "list" && t != "none") {
    throw BrokerRefusedError(
        0, fmt::format("Redis key '{}' is a {}, not a list: cannot use it as a queue", escaped(queue_), escaped(t)));
  }
  if (live_) {
    // Asked at once, so that a tail already running sees the first records too.
    readSubscriberCount(*conn_.request({"PUBSUB", "NUMSUB", tailChannel_}, "counting tail subscribers"));
    nextSubscriberCheck_ = Clock::now() + kSubscriberCheckInterval;
  }
}

void RedisPublisher::readSubscriberCount(const redisReply& reply) {
  // [channel, count]. An error (e.g. an ACL without PUBSUB) counts as nobody: tails are a view.
  if (reply.type == REDIS_REPLY_ARRAY && reply.elements == 2 && reply.element[1]->type == REDIS_REPLY_INTEGER) {
    tailSubscribers_ = reply.element[1]->integer;
    return;
  }
  if (!warnedMirror_ && reply.type == REDIS_REPLY_ERROR) {
    spdlog::warn("logctl tail will not see these records: PUBSUB NUMSUB {} failed: {}", escaped(tailChannel_),
                 escaped(replyText(reply)));
    warnedMirror_ = true;
  }
  tailSubscribers_ = 0;
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
  if (live_ && Clock::now() >= nextSubscriberCheck_) {
    const std::string_view numsub[] = {"PUBSUB", "NUMSUB", tailChannel_};
    conn_.append(numsub);
    inFlight_.push_back({Sent::Kind::SubscriberCount});
    nextSubscriberCheck_ = Clock::now() + kSubscriberCheckInterval;
  }
  args_.clear();
  args_.emplace_back("RPUSH");
  args_.emplace_back(queue_);
  size_t start = 0;
  for (const size_t end : bufferedEnds_) {
    args_.emplace_back(std::string_view(buffered_).substr(start, end - start));
    start = end;
  }
  conn_.append(args_);
  const uint64_t last = nextSeq_ - 1;
  inFlight_.push_back({Sent::Kind::Push, last - bufferedEnds_.size() + 1, last});
  sentThrough_ = last;
  if (live_ && tailSubscribers_ > 0) {
    // After the RPUSH: a tail shows only what is in the queue (unless the RPUSH fails).
    for (size_t i = 2; i < args_.size(); ++i) {
      const std::string_view publish[] = {"PUBLISH", tailChannel_, args_[i]};
      conn_.append(publish);
      inFlight_.push_back({Sent::Kind::Mirror});
    }
  }
  conn_.flush(fmt::format("sending records to '{}'", escaped(queue_)));
  buffered_.clear();
  bufferedEnds_.clear();
}

void RedisPublisher::settle(const redisReply& reply, std::vector<ConfirmRange>& out) {
  const Sent push = inFlight_.front();
  inFlight_.pop_front();
  if (push.kind == Sent::Kind::SubscriberCount) {
    readSubscriberCount(reply);
    return;
  }
  if (push.kind == Sent::Kind::Mirror) {
    if (reply.type == REDIS_REPLY_ERROR && !warnedMirror_) {
      spdlog::warn("logctl tail will not see these records: PUBLISH {} failed: {}", escaped(tailChannel_),
                   escaped(replyText(reply)));
      warnedMirror_ = true;
    }
    return;
  }
  if (push.kind == Sent::Kind::Wait) {
    settleWait(reply, out);
    return;
  }
  ConfirmRange range{push.first, push.last, true, {}};
  if (reply.type == REDIS_REPLY_ERROR && isTransient(replyText(reply))) {
    // Not a refusal of these records: this node cannot take them now (a replica after a failover,
    // NOREPLICAS, LOADING). Reconnect, through the sentinels if any, and send them again.
    throw ConnectionError(
        fmt::format("RPUSH to '{}': Redis is not ready: {}", escaped(queue_), escaped(replyText(reply))));
  }
  if (reply.type == REDIS_REPLY_ERROR) {
    range.ok = false;
    range.reason = fmt::format("Redis refused RPUSH to '{}': {}", escaped(queue_), escaped(replyText(reply)));
  } else if (reply.type != REDIS_REPLY_INTEGER) {
    range.ok = false;
    range.reason = fmt::format("unexpected reply type {} to RPUSH", reply.type);
  }
  if (waitReplicas_ > 0) {
    heldForWait_.push_back(std::move(range));  // settled by the WAIT after it
    return;
  }
  confirmedThrough_ = push.last;
  addRange(std::move(range), out);
}

void RedisPublisher::addRange(ConfirmRange range, std::vector<ConfirmRange>& out) {
  if (!out.empty() && out.back().ok && range.ok && out.back().last + 1 == range.first) {
    out.back().last = range.last;
  } else {
    out.push_back(std::move(range));
  }
}

void RedisPublisher::appendWait() {
  if (waitReplicas_ == 0 || waitedThrough_ == sentThrough_) return;
  const std::string replicas = std::to_string(waitReplicas_);
  const std::string_view wait[] = {"WAIT", replicas, waitTimeoutMs_};
  conn_.append(wait);
  inFlight_.push_back({Sent::Kind::Wait, waitedThrough_ + 1, sentThrough_});
  waitedThrough_ = sentThrough_;
  conn_.flush(fmt::format("waiting for Redis replicas to take records for '{}'", escaped(queue_)));
}

void RedisPublisher::settleWait(const redisReply& reply, std::vector<ConfirmRange>& out) {
  if (reply.type != REDIS_REPLY_INTEGER || reply.integer < waitReplicas_) {
    // Not on enough replicas: a failover now could lose them. Not confirmed: sent again, on a new
    // connection (through the sentinels, to whichever node is the master then).
    const std::string got = reply.type == REDIS_REPLY_INTEGER ? fmt::format("{} replica(s)", reply.integer)
                            : reply.type == REDIS_REPLY_ERROR ? fmt::format("error: {}", escaped(replyText(reply)))
                                                              : std::string("an unexpected reply");
    throw ConnectionError(
        fmt::format("--wait-replicas {}: WAIT answered {} within {} ms for records of '{}': not "
                    "confirmed",
                    waitReplicas_, got, waitTimeoutMs_, escaped(queue_)));
  }
  for (ConfirmRange& range : heldForWait_) {
    confirmedThrough_ = range.last;
    addRange(std::move(range), out);
  }
  heldForWait_.clear();
}

size_t RedisPublisher::awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline,
                                     std::vector<ConfirmRange>& out) {
  sendBuffered();
  appendWait();
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
