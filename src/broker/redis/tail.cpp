#include "broker/redis/tail.hpp"

#include <fmt/format.h>

#include "broker/redis/envelope.hpp"
#include "broker/redis/keys.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {

RedisTail::RedisTail(const BrokerOptions& broker, const TailOptions& options)
    : conn_(RedisConnection::open(broker)),
      channel_(QueueKeys(options.queue).tail()),
      maxPerReceive_(std::max<size_t>(options.prefetch, 1)) {
  const std::string_view subscribe[] = {"SUBSCRIBE", channel_};
  conn_.append(subscribe);
  const std::string what = fmt::format("subscribing to '{}'", escaped(channel_));
  conn_.flush(what);
  Reply reply = conn_.read(what);
  if (reply->type == REDIS_REPLY_ERROR) {
    throw BrokerRefusedError(0, fmt::format("{}: Redis refused: {}", what, escaped(replyText(*reply))));
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 || replyText(*reply->element[0]) != "subscribe") {
    throw ConnectionError(fmt::format("{}: unexpected reply", what));
  }
}

std::string RedisTail::describe() const {
  return fmt::format("subscribed to channel '{}' (producers publish to it while someone subscribes)",
                     escaped(channel_));
}

bool RedisTail::deliver(const redisReply& reply, std::vector<Delivery>& out) {
  // ["message", channel, value]; anything else (a late subscribe confirmation) is no message.
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 || replyText(*reply.element[0]) != "message") return false;
  const redisReply& value = *reply.element[2];
  Delivery& d = out.emplace_back();
  d.tag = nextTag_++;
  if (!decodeEnvelope(replyText(value), d.body, d.headers, error_)) {
    d.body.assign(replyText(value));
    d.headers.clear();
    d.transportError = error_;
  }
  return true;
}

size_t RedisTail::receive(std::vector<Delivery>& out, std::chrono::milliseconds timeout) {
  const std::string what = fmt::format("reading channel '{}'", escaped(channel_));
  const size_t before = out.size();
  Reply reply = conn_.tryRead(timeout, what);
  while (reply) {
    deliver(*reply, out);
    if (out.size() - before >= maxPerReceive_) break;
    reply = conn_.tryRead(std::chrono::milliseconds(0), what);
  }
  return out.size() - before;
}

}  // namespace logship::redis
