#include "broker/redis/admin.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker/redis/envelope.hpp"
#include "broker/redis/keys.hpp"
#include "broker/redis/sentinel.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {
namespace {

constexpr int64_t kPage = 100;  // list values read per LRANGE

// Moves one dead letter back: removes the value from the dead-letter list (the first equal one)
// and appends its requeued form to the queue, then publishes it to the tail channel as a producer
// would; nothing when the value is gone (moved or purged meanwhile). Returns 1 or 0.
// KEYS: dead-letter list, queue, tail channel. ARGV: the dead value, the requeued value.
constexpr std::string_view kRequeueScript = R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1
)lua";

constexpr std::string_view kPurgeScript = R"lua(
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
)lua";

// A value of the dead-letter list as a message (a value that is no readable envelope: its bytes as
// the body, no headers; aggregators never write one).
void toMessage(std::string_view value, Message& out) {
  std::string error;
  out.timestampUs = 0;
  if (!decodeEnvelope(value, out.body, out.headers, error)) {
    out.body.assign(value);
    out.headers.clear();
  }
}

}  // namespace

RedisAdmin::RedisAdmin(const BrokerOptions& options)
    : options_(options), conn_(RedisConnection::open(options)), host_(logship::localHostName()) {}

std::string RedisAdmin::goneHoldersLease(const std::string& leaseKey) {
  Reply lease = conn_.command({"GET", leaseKey}, "reading a consumer lease");
  if (lease->type != REDIS_REPLY_STRING) return {};
  std::string token(replyText(*lease));
  return leaseHolderGone(parseLeaseToken(token), host_) ? token : std::string();
}

void RedisAdmin::requireList(const std::string& key) {
  Reply type = conn_.command({"TYPE", key}, fmt::format("checking '{}'", escaped(key)));
  if (const auto t = replyText(*type); t != "list" && t != "none") {
    throw BrokerRefusedError(
        0, fmt::format("Redis key '{}' is a {}, not a list: cannot use it as a queue", escaped(key), escaped(t)));
  }
}

std::string RedisAdmin::declareTopology(const std::string& queue) {
  requireList(queue);
  requireList(deadLetterQueueName(queue));
  return "";
}

std::vector<std::string> RedisAdmin::consumerIds(const std::string& queue) {
  const QueueKeys keys(queue);
  std::set<std::string> ids;
  Reply members = conn_.command({"SMEMBERS", keys.registry}, "listing consumers");
  for (size_t i = 0; i < members->elements; ++i) ids.emplace(replyText(*members->element[i]));
  // Processing lists nobody registered (the registry was deleted by hand): SCAN finds them.
  const std::string pattern = keys.processingPattern();
  const std::string prefix = keys.processing("");
  std::string cursor = "0";
  do {
    Reply page = conn_.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, "scanning for processing lists");
    cursor = std::string(replyText(*page->element[0]));
    const redisReply& found = *page->element[1];
    for (size_t i = 0; i < found.elements; ++i) ids.emplace(replyText(*found.element[i]).substr(prefix.size()));
  } while (cursor != "0");
  return {ids.begin(), ids.end()};
}

QueueStats RedisAdmin::queueStats(const std::string& queue) {
  requireList(queue);
  const QueueKeys keys(queue);
  QueueStats stats;
  stats.name = queue;
  stats.exists = true;  // an empty Redis list does not exist as a key, but it is a usable queue
  stats.messagesReady = static_cast<uint64_t>(conn_.command({"LLEN", queue}, "reading the queue length")->integer);
  stats.source = StatsSource::Redis;
  uint64_t unacked = 0;
  for (const std::string& id : consumerIds(queue)) {
    ProcessingListStats& p = stats.processing.emplace_back();
    p.consumerId = id;
    p.messages =
        static_cast<uint64_t>(conn_.command({"LLEN", keys.processing(id)}, "reading a processing list")->integer);
    unacked += p.messages;
    Reply lease = conn_.command({"GET", keys.lease(id)}, "reading a consumer lease");
    const int64_t pttl = conn_.command({"PTTL", keys.lease(id)}, "reading a consumer lease")->integer;
    if (lease->type == REDIS_REPLY_STRING && pttl >= 0) {
      const LeaseOwner owner = parseLeaseToken(replyText(*lease));
      p.ownerHost = owner.host;
      p.ownerPid = owner.pid;
      p.ownerGone = leaseHolderGone(owner, host_);
      p.alive = !p.ownerGone;
      if (p.alive) ++stats.consumers;
      p.leaseExpiresIn = std::chrono::milliseconds(pttl);
      if (owner.ttlMs > 0) p.leaseAge = std::chrono::milliseconds(std::max<int64_t>(owner.ttlMs - pttl, 0));
    }
  }
  stats.messagesUnacked = unacked;
  if (options_.url.scheme == BrokerUrl::Scheme::RedisSentinel) stats.replication = describeReplication(options_, conn_);
  return stats;
}

std::optional<std::vector<ConsumerRecovery>> RedisAdmin::recoverAbandoned(const std::string& queue) {
  requireList(queue);
  const QueueKeys keys(queue);
  std::vector<ConsumerRecovery> result;
  for (const std::string& id : consumerIds(queue)) {
    // A lease held by a process of this host that is gone counts as gone: the script checks that
    // it still holds exactly that token.
    const std::string gone = goneHoldersLease(keys.lease(id));
    Reply r = conn_.command({"EVAL", recoverScript(), "4", keys.queue, keys.processing(id), keys.lease(id),
                             keys.registry, id, gone, "release"},
                            "recovering records of a dead consumer");
    ConsumerRecovery& c = result.emplace_back();
    c.consumerId = id;
    c.alive = r->integer < 0;
    c.recovered = r->integer > 0 ? static_cast<uint64_t>(r->integer) : 0;
  }
  return result;
}

void RedisAdmin::scanDeadLetters(const std::string& queue, uint64_t bound,
                                 const std::function<bool(const DeadLetter&, std::string_view, uint64_t&)>& visit) {
  const std::string dead = deadLetterQueueName(queue);
  DeadLetter d;
  int64_t start = 0;
  while (d.position < bound) {
    const int64_t count = std::min<int64_t>(kPage, static_cast<int64_t>(bound - d.position));
    Reply page = conn_.command({"LRANGE", dead, std::to_string(start), std::to_string(start + count - 1)},
                               "reading the dead-letter list");
    if (page->elements == 0) return;
    uint64_t removed = 0;
    for (size_t i = 0; i < page->elements; ++i) {
      ++d.position;
      const std::string_view value = replyText(*page->element[i]);
      toMessage(value, d.message);
      if (!visit(d, value, removed)) return;
    }
    start += static_cast<int64_t>(page->elements - removed);  // the values after a removed one moved up
  }
}

void RedisAdmin::peekDeadLetters(const std::string& queue, const DeadLetterVisitor& visit) {
  const std::string dead = deadLetterQueueName(queue);
  requireList(dead);
  const auto bound = static_cast<uint64_t>(conn_.command({"LLEN", dead}, "reading the dead-letter list")->integer);
  scanDeadLetters(queue, bound, [&](const DeadLetter& d, std::string_view, uint64_t&) { return visit(d); });
}

uint64_t RedisAdmin::requeueDeadLetters(const std::string& queue, const DeadLetterVisitor& select, uint64_t limit) {
  const std::string dead = deadLetterQueueName(queue);
  requireList(dead);
  requireList(queue);
  const QueueKeys keys(queue);
  // Only the values there now: one dead-lettered again meanwhile is appended after them.
  const auto bound = static_cast<uint64_t>(conn_.command({"LLEN", dead}, "reading the dead-letter list")->integer);
  uint64_t moved = 0;
  std::string value;
  scanDeadLetters(queue, bound, [&](const DeadLetter& d, std::string_view raw, uint64_t& removed) {
    if (!select(d)) return true;
    const Message m = requeuedMessage(d.message);
    // Without headers left, the value it was before it died (a plain value, or unreadable bytes).
    if (m.headers.empty()) {
      value = m.body;
    } else {
      encodeEnvelope(m, value);
    }
    Reply r = conn_.command({"EVAL", kRequeueScript, "3", dead, keys.queue, keys.tail(), raw, value},
                            "moving a dead letter back");
    moved += static_cast<uint64_t>(r->integer);
    removed += static_cast<uint64_t>(r->integer);
    return limit == 0 || moved < limit;
  });
  return moved;
}

uint64_t RedisAdmin::purgeDeadLetters(const std::string& queue) {
  const std::string dead = deadLetterQueueName(queue);
  requireList(dead);
  return static_cast<uint64_t>(
      conn_.command({"EVAL", kPurgeScript, "1", dead}, "purging the dead-letter list")->integer);
}

}  // namespace logship::redis
