#include "broker/redis/admin.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "broker/redis/keys.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {

RedisAdmin::RedisAdmin(const BrokerOptions& options) : conn_(RedisConnection::open(options)), host_(localHostName()) {}

std::string RedisAdmin::goneHoldersLease(const std::string& leaseKey) {
  Reply lease = conn_.command({"GET", leaseKey}, "reading a consumer lease");
  if (lease->type != REDIS_REPLY_STRING) return {};
  std::string token(replyText(*lease));
  return leaseHolderGone(parseLeaseToken(token), host_) ? token : std::string();
}

void RedisAdmin::requireList(const std::string& key) {
  Reply type = conn_.command({"TYPE", key}, fmt::format("checking '{}'", escaped(key)));
  if (const auto t = replyText(*type); t != "list" && t != "none") {
    throw BrokerRefusedError(0, fmt::format("Redis key '{}' is a {}, not a list: cannot use it as a queue",
                                            escaped(key), escaped(t)));
  }
}

void RedisAdmin::declareTopology(const std::string& queue) {
  requireList(queue);
  requireList(deadLetterQueueName(queue));
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
    p.messages = static_cast<uint64_t>(conn_.command({"LLEN", keys.processing(id)}, "reading a processing list")->integer);
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
    Reply r = conn_.command(
        {"EVAL", kRecoverScript, "4", keys.queue, keys.processing(id), keys.lease(id), keys.registry, id, gone, "release"},
        "recovering records of a dead consumer");
    ConsumerRecovery& c = result.emplace_back();
    c.consumerId = id;
    c.alive = r->integer < 0;
    c.recovered = r->integer > 0 ? static_cast<uint64_t>(r->integer) : 0;
  }
  return result;
}

}  // namespace logship::redis
