#include "broker/redis/sentinel.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::redis {
namespace {

std::string hostPort(const std::string& host, uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

// A sentinel as a plain Redis server to connect to: its own password, database 0, short deadlines.
BrokerOptions sentinelOptions(const BrokerOptions& options, const BrokerUrl& sentinel) {
  BrokerOptions one = options;
  one.url = BrokerUrl{};
  one.url.scheme = BrokerUrl::Scheme::Redis;
  one.url.host = sentinel.host;
  one.url.port = sentinel.port;
  one.url.user.clear();
  one.url.password = sentinel.sentinelPassword;
  one.url.hasPassword = !sentinel.sentinelPassword.empty();
  one.urls.clear();
  one.connectTimeout = std::min(options.connectTimeout, kSentinelTimeout);
  one.rpcTimeout = one.connectTimeout;
  return one;
}

// The sentinels in the order to ask them: options.url first, then the others of the list.
std::vector<BrokerUrl> sentinelsInOrder(const BrokerOptions& options) {
  std::vector<BrokerUrl> order{options.url};
  for (const BrokerUrl& u : options.urls) {
    if (u.host != options.url.host || u.port != options.url.port) order.push_back(u);
  }
  return order;
}

uint16_t parsePort(std::string_view text) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc{} && end == text.data() + text.size() && port > 0 && port <= 65535
             ? static_cast<uint16_t>(port)
             : 0;
}

// What asking the sentinels came to, for the error when none named the master.
struct Outcome {
  std::vector<std::string> unreachable;  // "127.0.0.1:26379: Connection refused"
  std::vector<std::string> refused;      // sentinels that refused the password
  std::string refusal;
  std::vector<std::string> unknown;  // sentinels that know no master of the name
};

[[noreturn]] void throwNoMaster(const BrokerOptions& options, const Outcome& o) {
  const std::string name = escaped(options.url.masterName);
  if (!o.unknown.empty()) {
    throw BrokerRefusedError(
        0, fmt::format("unknown Redis master name '{}': Redis Sentinel {} knows no master of that name (check the name "
                       "after the host in the redis-sentinel:// URL against `sentinel monitor NAME` in sentinel.conf)",
                       name, fmt::join(o.unknown, ", ")));
  }
  if (!o.refused.empty()) {
    throw BrokerRefusedError(
        0, fmt::format("Redis Sentinel {} refused the sentinels' password: give it in the URL "
                       "(redis-sentinel://:PASSWORD@HOST:PORT/{}) or in LOGSHIP_SENTINEL_PASSWORD ({})",
                       fmt::join(o.refused, ", "), name, o.refusal));
  }
  throw ConnectionError(
      fmt::format("no Redis Sentinel reachable for master '{}' ({})", name, fmt::join(o.unreachable, "; ")));
}

// Asks one sentinel; the master's address, or nothing (what happened is added to `o`).
std::optional<BrokerUrl> askOne(const BrokerOptions& options, const BrokerUrl& sentinel, Outcome& o) {
  const std::string where = hostPort(sentinel.host, sentinel.port);
  try {
    RedisConnection conn = RedisConnection::open(sentinelOptions(options, sentinel));
    Reply r = conn.command({"SENTINEL", "get-master-addr-by-name", options.url.masterName},
                           "asking Redis Sentinel for the master");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
      o.unknown.push_back(where);
      return std::nullopt;
    }
    BrokerUrl master = options.url;
    master.scheme = BrokerUrl::Scheme::Redis;
    master.host = std::string(replyText(*r->element[0]));
    master.port = parsePort(replyText(*r->element[1]));
    master.sentinelPassword.clear();
    if (master.port == 0) throw ConnectionError("the sentinel answered an invalid port");
    return master;
  } catch (const BrokerRefusedError& e) {
    o.refused.push_back(where);
    o.refusal = e.what();
  } catch (const ConnectionError& e) {
    o.unreachable.push_back(fmt::format("{}: {}", where, e.what()));
  }
  return std::nullopt;
}

}  // namespace

BrokerUrl askSentinelsForMaster(const BrokerOptions& options) {
  Outcome outcome;
  for (const BrokerUrl& sentinel : sentinelsInOrder(options)) {
    if (auto master = askOne(options, sentinel, outcome)) return *master;
  }
  throwNoMaster(options, outcome);
}

RedisConnection openMasterThroughSentinels(const BrokerOptions& options) {
  BrokerOptions data = options;
  data.url = askSentinelsForMaster(options);
  data.urls.clear();
  const std::string where = fmt::format("Redis master '{}' at {} (named by the sentinels)",
                                        escaped(options.url.masterName), hostPort(data.url.host, data.url.port));
  std::optional<RedisConnection> conn;
  bool master = false;
  try {
    conn.emplace(RedisConnection::open(data));
    Reply role = conn->command({"ROLE"}, "asking the master for its role");
    master = role->type == REDIS_REPLY_ARRAY && role->elements > 0 && role->element[0]->type == REDIS_REPLY_STRING &&
             replyText(*role->element[0]) == "master";
  } catch (const BrokerRefusedError& e) {
    throw BrokerRefusedError(e.code(), fmt::format("{}: {}", where, e.what()));
  } catch (const TimeoutError& e) {
    throw TimeoutError(fmt::format("{}: {}", where, e.what()));
  } catch (const ConnectionError& e) {
    throw ConnectionError(fmt::format("{}: {}", where, e.what()));
  }
  if (!master) {
    // A failover in progress: the sentinels' answer is stale. Asked again on the next attempt.
    throw ConnectionError(fmt::format("{} is not a master (ROLE): a failover in progress?", where));
  }
  spdlog::debug("{}: connected", where);
  return std::move(*conn);
}

namespace {

// "slave0:ip=127.0.0.1,port=6472,state=online,offset=123,lag=0" lines of INFO replication, and
// master_repl_offset.
struct MasterView {
  int64_t offset = 0;
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> replicas;  // HOST:PORT -> (offset, lag)
};

std::string_view field(std::string_view line, std::string_view key) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return {};
  const size_t start = at + key.size();
  return line.substr(start, line.find(',', start) - start);
}

int64_t number(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

MasterView readMasterView(RedisConnection& master) {
  MasterView view;
  Reply info = master.command({"INFO", "replication"}, "reading the master's replication state");
  std::string_view text = replyText(*info);
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.starts_with("master_repl_offset:")) view.offset = number(line.substr(19));
    if (line.starts_with("slave") && line.find(":ip=") != std::string_view::npos) {
      const std::string address = fmt::format("{}:{}", field(line, "ip="), field(line, ",port="));
      view.replicas.push_back({address, {number(field(line, ",offset=")), number(field(line, ",lag="))}});
    }
  }
  return view;
}

// SENTINEL REPLICAS NAME: one flat FIELD, VALUE array per replica.
std::string replicaField(const redisReply& r, std::string_view key) {
  for (size_t i = 0; i + 1 < r.elements; i += 2) {
    if (replyText(*r.element[i]) == key) return std::string(replyText(*r.element[i + 1]));
  }
  return {};
}

}  // namespace

ReplicationStats describeReplication(const BrokerOptions& options, RedisConnection& master) {
  ReplicationStats stats;
  stats.masterName = options.url.masterName;
  const BrokerUrl m = askSentinelsForMaster(options);
  stats.master = hostPort(m.host, m.port);
  const MasterView view = readMasterView(master);
  for (const BrokerUrl& sentinel : sentinelsInOrder(options)) {
    try {
      RedisConnection conn = RedisConnection::open(sentinelOptions(options, sentinel));
      Reply list = conn.command({"SENTINEL", "REPLICAS", options.url.masterName}, "asking Redis Sentinel for replicas");
      for (size_t i = 0; i < list->elements; ++i) {
        ReplicaStats& r = stats.replicas.emplace_back();
        r.address =
            fmt::format("{}:{}", replicaField(*list->element[i], "ip"), replicaField(*list->element[i], "port"));
        r.flags = replicaField(*list->element[i], "flags");
        for (const auto& [address, offsetLag] : view.replicas) {
          if (address != r.address) continue;
          r.lagBytes = std::max<int64_t>(0, view.offset - offsetLag.first);
          r.lagSeconds = offsetLag.second;
        }
      }
      return stats;
    } catch (const Error& e) {
      spdlog::warn("Redis Sentinel {}: {}", hostPort(sentinel.host, sentinel.port), e.what());
    }
  }
  return stats;
}

}  // namespace logship::redis
