#include "broker/redis/consumer.hpp"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/redis/envelope.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {
namespace {

// Takes up to ARGV[3] records and refreshes the lease. KEYS: queue, processing, lease, registry,
// dead list. ARGV: token, ttl ms, max, id, the body size limit (0: none), and the dead-letter
// header items to put before and after the size (tooLargeReasonAfterSize). Returns {lost,
// values...}: lost is -1 normally, or the length the processing list had when our lease was found
// expired (0: someone put our records back).
// A record that failed before (kDeliveriesLua) is taken alone: if it comes after others it stays
// at the head of the queue for the next take. So while the collector writes it (alone, see
// Collector::take), nothing else is in our processing list: if it kills us, it is the only record
// whose count goes up, and the records that came with it do not share its fate.
// A value whose body is over the limit never leaves Redis (hiredis would read it whole): the script
// moves it to the dead list itself, body and headers, its deliveries item dropped and the dead
// reason and queue added (a plain or unreadable value becomes the body of a new envelope, as the
// collector dead-letters it), and returns {size} in its place, which the consumer hands on as a
// delivery that is only counted and logged. Measuring costs nothing for the others: LMOVE hands the
// value to the script anyway, and `#v` is its length; only a value over the limit is searched for
// the end of its header line (its body size is what the limit is about).
const std::string kTakeScript = std::string(kDeliveriesLua) + R"lua(
local limit = tonumber(ARGV[5])
local function deadLetter(v)
  local n, line, lf, s, e = failures(v)
  local size = #v
  if n then size = #v - lf end
  if size <= limit then return nil end
  local items = ARGV[6] .. string.format('%d', size) .. ARGV[7]
  if not n then
    redis.call('RPUSH', KEYS[5], '\255LS1' .. items .. '\n' .. v)
  else
    if s then line = string.sub(line, 1, s - 1) .. string.sub(line, e + 1) end
    redis.call('RPUSH', KEYS[5], '\255LS' .. line .. items .. string.sub(v, lf))
  end
  redis.call('LTRIM', KEYS[2], 0, -2)
  return size
end
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[1] then return redis.error_reply('LEASE ' .. owner) end
local lost = -1
if not owner then
  lost = redis.call('LLEN', KEYS[2])
  redis.call('SADD', KEYS[4], ARGV[4])
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
local out = {lost}
for i = 1, tonumber(ARGV[3]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not v then break end
  local dead = limit > 0 and #v > limit and deadLetter(v)
  if dead then
    out[#out + 1] = {dead}
  else
    local n = failures(v)
    if n and n > 0 then
      if #out > 1 then redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT') else out[#out + 1] = v end
      break
    end
    out[#out + 1] = v
  end
end
return out
)lua";

// Drops the first ARGV[3] records of the processing list and refreshes the lease.
// KEYS: processing, lease, registry. ARGV: token, ttl ms, count, id. Returns lost as above.
constexpr const char* kAckScript = R"lua(
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return redis.error_reply('LEASE ' .. owner) end
local lost = -1
if not owner then
  lost = redis.call('LLEN', KEYS[1])
  redis.call('SADD', KEYS[3], ARGV[4])
end
if lost < 0 or lost >= tonumber(ARGV[3]) then redis.call('LTRIM', KEYS[1], ARGV[3], -1) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return lost
)lua";

// Takes the lease unless somebody else holds it. KEYS: lease, registry. ARGV: token, ttl ms, id.
// Returns "" when we hold it, else the holder's token.
constexpr const char* kAcquireScript = R"lua(
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return ''
)lua";

// Deletes the lease only if it still holds ARGV[1]. KEYS: lease.
constexpr const char* kDeleteIfScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

// The lease tokens of this process' consumers (a reconnect makes a new consumer with a new token).
// A lease holding one of them is ours from before a reconnect (the broker restarted with the lease
// persisted, or our connection broke while the lease lived): not a dead process.
std::mutex ownTokensMu;
std::set<std::string> ownTokens;

bool isOwnToken(const std::string& token) {
  std::lock_guard lock(ownTokensMu);
  return ownTokens.contains(token);
}

std::string leaseOwnerText(std::string_view token) {
  const size_t sp1 = token.find(' ');
  const size_t sp2 = token.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos) return fmt::format("'{}'", escaped(token));
  return fmt::format("host {} pid {}", escaped(token.substr(0, sp1)), escaped(token.substr(sp1 + 1, sp2 - sp1 - 1)));
}

}  // namespace

RedisConsumer::RedisConsumer(const BrokerOptions& options, const ConsumerOptions& consumer)
    : conn_(RedisConnection::open(options)),
      keys_(consumer.queue),
      id_(consumer.consumerId),
      host_(logship::localHostName()),
      leaseTtl_(consumer.leaseTtl),
      prefetch_(consumer.prefetch),
      blockLimit_(std::max(options.rpcTimeout / 2, std::chrono::milliseconds(10))),
      stopRequested_(options.stopRequested) {
  const std::string version = conn_.serverVersion();
  if (versionNumber(version) < 60200) {
    throw BrokerRefusedError(
        0, fmt::format("Redis {} is too old: the reliable queue needs Redis 6.2 or newer (LMOVE)", escaped(version)));
  }
  Reply type = conn_.command({"TYPE", keys_.queue}, fmt::format("checking '{}'", escaped(keys_.queue)));
  if (const auto t = replyText(*type); t != "list" && t != "none") {
    throw BrokerRefusedError(0, fmt::format("Redis key '{}' is a {}, not a list: cannot use it as a queue",
                                            escaped(keys_.queue), escaped(t)));
  }
  if (id_.empty()) id_ = fmt::format("{}-{}", host_, getpid());
  processing_ = keys_.processing(id_);
  deadList_ = deadLetterQueueName(keys_.queue);
  maxBodyBytes_ = std::to_string(consumer.maxBodyBytes);
  // The dead-letter items kTakeScript adds around the size it measured: "%01" stands for it.
  std::string items;
  appendHeaderItems(items,
                    {{std::string(wire::kDeadReason),
                      "message of \x01 " + tooLargeReasonAfterSize(consumer.maxBodyBytes, OversizeBody::KeptInRedis)},
                     {std::string(wire::kDeadQueue), keys_.queue}});
  const size_t size = items.find("%01");
  deadItemsBeforeSize_ = items.substr(0, size);
  deadItemsAfterSize_ = items.substr(size + 3);
  lease_ = keys_.lease(id_);
  ttlMs_ = std::to_string(std::max<int64_t>(leaseTtl_.count(), 1000));
  // The TTL in the token lets `logctl status` tell how long ago the lease was renewed.
  token_ = fmt::format("{} {} {:016x} {}", host_, getpid(),
                       std::random_device{}() * 0x100000000ULL + std::random_device{}(), ttlMs_);
  {
    std::lock_guard lock(ownTokensMu);
    ownTokens.insert(token_);
  }
  acquireLease();
  putBackOwn("left by a previous run", false);
}

void RedisConsumer::acquireLease() {
  const auto giveUpAt = Clock::now() + leaseTtl_ + std::chrono::seconds(1);
  bool waited = false;
  for (;;) {
    Reply r = conn_.command({"EVAL", kAcquireScript, "2", lease_, keys_.registry, token_, ttlMs_, id_},
                            "taking the consumer lease");
    const std::string holder(replyText(*r));
    if (holder.empty()) return;
    // "<host> <pid> <nonce>": a holder on this host whose process is gone was a previous run of ours.
    const LeaseOwner owner = parseLeaseToken(holder);
    if (isOwnToken(holder)) {
      spdlog::info("consumer id '{}' still had our lease from before we reconnected: renewing it", escaped(id_));
      conn_.command({"EVAL", kDeleteIfScript, "1", lease_, holder}, "releasing our earlier consumer lease");
      continue;
    }
    if (owner.host == host_) {
      // Our own pid with a token that is not ours: a previous process of another pid namespace.
      if (owner.pid == getpid() || leaseHolderGone(owner, host_)) {
        spdlog::info("consumer id '{}' was held by pid {} on this host, which is gone: taking it over", escaped(id_),
                     owner.pid);
        conn_.command({"EVAL", kDeleteIfScript, "1", lease_, holder}, "releasing a stale consumer lease");
        continue;
      }
      throw Error(
          fmt::format("consumer id '{}' is in use by a running aggregator ({}): give each aggregator "
                      "its own --output or --consumer-id",
                      escaped(id_), leaseOwnerText(holder)));
    }
    if (Clock::now() >= giveUpAt) {
      throw Error(
          fmt::format("consumer id '{}' is in use by a live aggregator ({}) that keeps its lease: give "
                      "each aggregator its own --consumer-id",
                      escaped(id_), leaseOwnerText(holder)));
    }
    if (stopRequested_ != nullptr && stopRequested_->load()) {
      throw InterruptedError(fmt::format("interrupted while waiting for the lease of consumer id '{}'", escaped(id_)));
    }
    if (!waited) {
      spdlog::warn("consumer id '{}' is held by {}; waiting up to {} s for its lease to expire", escaped(id_),
                   leaseOwnerText(holder), std::chrono::duration_cast<std::chrono::seconds>(leaseTtl_).count() + 1);
      waited = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void RedisConsumer::putBackOwn(const char* why, bool release, bool counted) {
  Reply r = conn_.command({"EVAL", recoverScript(), "4", keys_.queue, processing_, lease_, keys_.registry, id_, token_,
                           release ? "release" : "keep", counted ? "counted" : "as-is"},
                          "putting unfinished records back in the queue");
  if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
    spdlog::warn("put {} unfinished message(s) {} back at the head of '{}'", r->integer, why, escaped(keys_.queue));
  }
}

void RedisConsumer::recoverOthers() {
  const auto now = Clock::now();
  if (now < nextRecovery_) return;
  nextRecovery_ = now + std::max(leaseTtl_ / 2, std::chrono::milliseconds(1000));
  Reply members = conn_.command({"SMEMBERS", keys_.registry}, "listing consumers");
  for (size_t i = 0; i < members->elements; ++i) {
    const std::string id(replyText(*members->element[i]));
    if (id == id_) continue;
    Reply r = conn_.command({"EVAL", recoverScript(), "4", keys_.queue, keys_.processing(id), keys_.lease(id),
                             keys_.registry, id, "", "release"},
                            "recovering records of a dead consumer");
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
      spdlog::warn("consumer '{}' stopped renewing its lease: put its {} unfinished message(s) back in '{}'",
                   escaped(id), r->integer, escaped(keys_.queue));
    }
  }
}

uint64_t RedisConsumer::inProcessingList(uint64_t through) const {
  const auto moved = std::upper_bound(deadTags_.begin(), deadTags_.end(), through) - deadTags_.begin();
  return through - settledThrough_ - static_cast<uint64_t>(moved);
}

void RedisConsumer::settle(uint64_t through) {
  settledThrough_ = std::max(settledThrough_, through);
  while (!deadTags_.empty() && deadTags_.front() <= settledThrough_) deadTags_.pop_front();
}

void RedisConsumer::noteLeaseLost(int64_t listLength) {
  const uint64_t unsettled = inProcessingList(nextTag_ - 1);
  if (listLength >= 0 && static_cast<uint64_t>(listLength) < unsettled) {
    leaseLines_.log(RepeatedLines::Level::Warn,
                    fmt::format("our lease on consumer id '{}' expired and {} record(s) in flight went back to the "
                                "queue: they will be written again (at-least-once)",
                                escaped(id_), unsettled));
    settle(nextTag_ - 1);
  } else {
    leaseLines_.log(
        RepeatedLines::Level::Warn,
        fmt::format("our lease on consumer id '{}' expired (was the aggregator stalled?); renewed it", escaped(id_)));
  }
}

void RedisConsumer::deliver(const redisReply& value, std::vector<Delivery>& out) {
  Delivery& d = out.emplace_back();
  d.tag = nextTag_++;
  if (value.type == REDIS_REPLY_ARRAY && value.elements == 1) {  // {size}: kTakeScript dead-lettered it
    d.droppedBodySize = static_cast<uint64_t>(value.element[0]->integer);
    d.movedToDeadLetters = true;
    deadTags_.push_back(d.tag);
    return;
  }
  if (!decodeEnvelope(replyText(value), d.body, d.headers, error_)) {
    d.body.assign(replyText(value));
    d.headers.clear();
    d.transportError = error_;
  }
  // recoverScript() counted every failed delivery in the record itself: nothing is unrecorded.
  d.redelivered = recordedDeliveries(d.headers) > 0;
}

[[noreturn]] static void throwLeaseTaken(const std::string& id, std::string_view error) {
  throw BrokerRefusedError(
      0, fmt::format("consumer id '{}' was taken over by another aggregator ({}) while our lease had expired; "
                     "stopping (give each aggregator its own --consumer-id)",
                     escaped(id), leaseOwnerText(error.substr(6))));
}

size_t RedisConsumer::take(size_t max, std::vector<Delivery>& out) {
  const std::string count = std::to_string(max);
  Reply r = conn_.request({"EVAL", kTakeScript, "5", keys_.queue, processing_, lease_, keys_.registry, deadList_,
                           token_, ttlMs_, count, id_, maxBodyBytes_, deadItemsBeforeSize_, deadItemsAfterSize_},
                          "taking records");
  if (r->type == REDIS_REPLY_ERROR) {
    if (replyText(*r).starts_with("LEASE ")) throwLeaseTaken(id_, replyText(*r));
    if (isTransient(replyText(*r))) throw ConnectionError(fmt::format("taking records: {}", escaped(replyText(*r))));
    throw BrokerRefusedError(
        0, fmt::format("taking records from '{}': Redis refused: {}", escaped(keys_.queue), escaped(replyText(*r))));
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) throw ConnectionError("taking records: unexpected reply");
  if (r->element[0]->integer >= 0) noteLeaseLost(r->element[0]->integer);
  for (size_t i = 1; i < r->elements; ++i) deliver(*r->element[i], out);
  return r->elements - 1;
}

size_t RedisConsumer::receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) {
  // --prefetch caps what one consumer holds in its processing list, as it caps unacked
  // deliveries over RabbitMQ: fair sharing between aggregators, bounded redelivery after a crash.
  // It counts what is held unacked, not one take: a caller that holds its acks back (the collector
  // while its output is unwritable) keeps calling receive, and at the cap that only renews the lease.
  leaseLines_.flush();  // the count of a burst of identical lines of the last round
  const uint64_t held = inProcessingList(nextTag_ - 1);
  max = std::min<size_t>(max, held < prefetch_ ? prefetch_ - held : 0);
  recoverOthers();
  if (max == 0) {
    take(0, out);  // the lease stays ours (and a lost one is noticed), nothing is taken
    return 0;
  }
  if (const size_t n = take(max, out); n > 0) return n;
  // Nothing waiting: wait in BLMOVE for a record to arrive, then take through the lease-checked
  // script. BLMOVE Q Q LEFT LEFT moves the head to the head, i.e. changes nothing: every record
  // enters a processing list only through kTakeScript, never while another process owns our id.
  // The value BLMOVE returns is not wanted: it is dropped as it arrives, in chunks, so that a value
  // over --max-message-bytes is never held here (kTakeScript dead-letters it within Redis).
  const auto wait = std::clamp(timeout, std::chrono::milliseconds(10), blockLimit_);
  const std::string seconds = fmt::format("{:.3f}", static_cast<double>(wait.count()) / 1000.0);
  if (!conn_.commandDroppingBulk({"BLMOVE", keys_.queue, keys_.queue, "LEFT", "LEFT", seconds},
                                 fmt::format("waiting for records in '{}'", escaped(keys_.queue)))) {
    return 0;
  }
  return take(max, out);  // 0 if another aggregator was quicker
}

void RedisConsumer::ackUpTo(uint64_t tag) {
  if (tag <= settledThrough_) return;
  const std::string count = std::to_string(inProcessingList(tag));
  Reply r = conn_.request({"EVAL", kAckScript, "3", processing_, lease_, keys_.registry, token_, ttlMs_, count, id_},
                          "acknowledging records");
  if (r->type == REDIS_REPLY_ERROR) {
    if (replyText(*r).starts_with("LEASE ")) throwLeaseTaken(id_, replyText(*r));
    if (isTransient(replyText(*r)))
      throw ConnectionError(fmt::format("acknowledging records: {}", escaped(replyText(*r))));
    throw BrokerRefusedError(0, fmt::format("acknowledging records: Redis refused: {}", escaped(replyText(*r))));
  }
  if (r->integer >= 0) noteLeaseLost(r->integer);
  settle(tag);
}

bool RedisConsumer::stopForHandBack(std::vector<Delivery>& /*pushedAhead*/) {
  if (closed_) return false;
  try {
    putBackOwn("not yet written (given back: no failed delivery counted)", true, false);
    closed_ = true;
  } catch (const ConnectionError& e) {
    spdlog::debug("giving records back: {}", e.what());  // close() tries again; else the lease expires
  }
  return false;
}

void RedisConsumer::close() noexcept {
  if (closed_) return;
  closed_ = true;
  try {
    // Records taken but not acked go back to the head of the queue; the lease and our entry in
    // the registry go away. If the connection is broken this fails: the lease then expires and
    // another aggregator (or our next run) puts the records back.
    putBackOwn("not yet written", true);
  } catch (const std::exception& e) {
    spdlog::debug("closing the Redis consumer: {}", e.what());
  }
}

}  // namespace logship::redis
