#include "broker/resolve.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship {
namespace {

const char* schemeName(BrokerUrl::Scheme scheme) {
  switch (scheme) {
    case BrokerUrl::Scheme::Amqp: return "amqp";
    case BrokerUrl::Scheme::Amqps: return "amqps";
    case BrokerUrl::Scheme::Redis: return "redis";
    case BrokerUrl::Scheme::RedisSentinel: return "redis-sentinel";
  }
  return "?";
}

// A TLS file must hold something we can read now, or the error would only come at connect time.
void checkReadable(const char* name, const std::string& path) {
  const UniqueFd fd = openFile(path, O_RDONLY, 0, true);
  char byte = 0;
  const ssize_t n = fd.valid() ? ::read(fd.get(), &byte, 1) : -1;
  const int error = errno;
  if (n < 0) throw UsageError(fmt::format("{}: cannot read '{}': {}", name, escaped(path), std::strerror(error)));
  if (n == 0) throw UsageError(fmt::format("{}: '{}' is empty", name, escaped(path)));
}

TlsOptions resolveTls(const BrokerSettings& settings, const BrokerSettingNames& names, const BrokerUrl& url) {
  const TlsOptions& tls = settings.tls;
  if (url.scheme != BrokerUrl::Scheme::Amqps) {
    const char* scheme = schemeName(url.scheme);
    const char* why = url.isRedis() ? " (Redis over TLS is not supported: Debian 12's hiredis 0.14 has no TLS)" : "";
    if (settings.requireTls) {
      throw UsageError(
          fmt::format("{} refuses the unencrypted {}:// broker URL; use amqps://{}", names.requireTls, scheme, why));
    }
    for (const auto& [name, value] : {std::pair{names.tlsCa, &tls.caFile}, std::pair{names.tlsCert, &tls.certFile},
                                      std::pair{names.tlsKey, &tls.keyFile}}) {
      if (!value->empty()) {
        throw UsageError(fmt::format("{} needs an amqps:// broker URL, not {}://{}", name, scheme, why));
      }
    }
    return {};
  }
  if (tls.certFile.empty() != tls.keyFile.empty()) {
    throw UsageError(tls.certFile.empty()
                         ? fmt::format("{} needs {} (give both or neither)", names.tlsKey, names.tlsCert)
                         : fmt::format("{} needs {} (give both or neither)", names.tlsCert, names.tlsKey));
  }
  if (!tls.caFile.empty()) checkReadable(names.tlsCa, tls.caFile);
  if (!tls.certFile.empty()) checkReadable(names.tlsCert, tls.certFile);
  if (!tls.keyFile.empty()) checkReadable(names.tlsKey, tls.keyFile);
  return tls;
}

void validateShards(const BrokerSettings& settings, const BrokerSettingNames& names, const BrokerUrl& url) {
  if (settings.shards == 0) return;
  if (url.scheme == BrokerUrl::Scheme::Redis) {
    throw UsageError(
        fmt::format("{}: sharded queues need RabbitMQ (a consistent-hash exchange); over Redis run "
                    "several producers and aggregators on one queue instead",
                    names.shards));
  }
  if (settings.shards > amqp::kMaxShards) {
    throw UsageError(fmt::format("{}: at most {} shards, not {}", names.shards, amqp::kMaxShards, settings.shards));
  }
  if (amqp::shardQueueName(settings.queue, settings.shards - 1).size() > 255) {
    throw UsageError(fmt::format("{}: the shard names ('{}') would be over 255 bytes: use a shorter queue name",
                                 names.shards, escaped(amqp::shardQueueName(settings.queue, settings.shards - 1))));
  }
}

// The URLs of a redis-sentinel:// list are the sentinels of one master: one name, one database.
void checkSameMaster(const BrokerUrl& url, const BrokerUrl& first, const BrokerSettingNames& names) {
  if (url.scheme != BrokerUrl::Scheme::RedisSentinel) return;
  if (url.masterName != first.masterName || url.db != first.db) {
    throw UsageError(
        fmt::format("{}: bad broker URL: every redis-sentinel:// URL of a list must name the same master "
                    "and database ('{}' and '{}' differ)",
                    names.broker, escaped(first.masterName + "/" + std::to_string(first.db)),
                    escaped(url.masterName + "/" + std::to_string(url.db))));
  }
}

}  // namespace

void validateShardIds(const std::vector<uint32_t>& ids, uint32_t shards, const char* name) {
  if (ids.empty()) return;
  if (shards == 0) throw UsageError(fmt::format("{}: give --shards N too (the queue's number of shards)", name));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= shards) {
      throw UsageError(
          fmt::format("{}: there is no shard {} (--shards {}: ids 0 to {})", name, ids[i], shards, shards - 1));
    }
    if (std::find(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(i), ids[i]) !=
        ids.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw UsageError(fmt::format("{}: shard {} is given twice", name, ids[i]));
    }
  }
}

void validateQueueName(const std::string& queue, const char* name) {
  if (queue.empty() || queue.size() > 250) {
    throw UsageError(fmt::format("{}: a queue name must be 1 to 250 bytes long", name));
  }
  for (unsigned char c : queue) {
    if (c < 0x20 || c == 0x7f) {
      throw UsageError(fmt::format("{}: '{}' contains a control character", name, escaped(queue)));
    }
  }
  if (queue.starts_with("amq."))
    throw UsageError(fmt::format("{}: names starting with 'amq.' are reserved by the broker", name));
}

bool validStreamMaxAge(std::string_view age) {
  if (age.size() < 2 || age.size() > 20 || std::string_view("YMDhms").find(age.back()) == std::string_view::npos) {
    return false;
  }
  const std::string_view number = age.substr(0, age.size() - 1);
  return number.find_first_not_of("0123456789") == std::string_view::npos &&
         number.find_first_not_of('0') != std::string_view::npos;
}

namespace {

QueueDeclaration resolveQueueDeclaration(const BrokerSettings& settings, const BrokerSettingNames& names,
                                         const BrokerUrl& url) {
  QueueDeclaration d;
  if (settings.queueType == "quorum") {
    d.type = QueueType::Quorum;
  } else if (settings.queueType == "stream") {
    d.type = QueueType::Stream;
  } else if (settings.queueType != "classic") {
    throw UsageError(fmt::format("{}: '{}' is not a queue type: classic, quorum or stream", names.queueType,
                                 escaped(settings.queueType)));
  }
  if (d.type != QueueType::Classic && url.scheme == BrokerUrl::Scheme::Redis) {
    throw UsageError(
        fmt::format("{} {}: RabbitMQ only (a Redis queue is a list)", names.queueType, settings.queueType));
  }
  const bool retention = !settings.streamMaxAge.empty() || settings.streamMaxBytes > 0;
  if (retention && d.type != QueueType::Stream) {
    throw UsageError(fmt::format("{}: only with {} stream (a stream's retention)",
                                 settings.streamMaxAge.empty() ? names.streamMaxBytes : names.streamMaxAge,
                                 names.queueType));
  }
  if (!settings.streamMaxAge.empty() && !validStreamMaxAge(settings.streamMaxAge)) {
    throw UsageError(
        fmt::format("{}: '{}' is not an age as RabbitMQ takes it: a whole number and Y, M, D, h, m or s, "
                    "like 7D or 12h (M is months, m minutes)",
                    names.streamMaxAge, escaped(settings.streamMaxAge)));
  }
  d.streamMaxAge = settings.streamMaxAge;
  d.streamMaxBytes = settings.streamMaxBytes;
  return d;
}

}  // namespace

void applyWaitReplicas(BrokerOptions& options, int replicas, std::chrono::milliseconds timeout, const char* name) {
  if (replicas < 0) throw UsageError(fmt::format("{}: must be 0 or more, not {}", name, replicas));
  if (replicas > 0 && !options.url.isRedis()) {
    throw UsageError(
        fmt::format("{} needs a redis:// or redis-sentinel:// broker URL (RabbitMQ's confirms already "
                    "cover its replicas: use quorum queues)",
                    name));
  }
  if (timeout.count() < 1) throw UsageError(fmt::format("{}: the timeout must be at least 1 ms", name));
  options.waitReplicas = replicas;
  options.waitTimeout = timeout;
}

BrokerOptions resolveBrokerSettings(const BrokerSettings& settings, const BrokerSettingNames& names) {
  BrokerOptions options;
  const std::string text = settings.urls.empty() ? std::string(kDefaultBrokerUrl) : settings.urls;
  // A comma never appears in a URL we accept unencoded except as this separator (write one in a
  // password as %2C, or better give the password separately).
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    const std::string one = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (one.empty())
      throw UsageError(fmt::format("{}: bad broker URL: empty URL in the comma-separated list", names.broker));
    try {
      options.urls.push_back(parseBrokerUrl(one));
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("{}: {}", names.broker, e.what()));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (BrokerUrl& url : options.urls) {
    if (url.scheme != options.urls.front().scheme) {
      throw UsageError(fmt::format(
          "{}: bad broker URL: every URL of a list must use the same scheme (amqp:// or redis://)", names.broker));
    }
    checkSameMaster(url, options.urls.front(), names);
    if (settings.password) {
      url.password = *settings.password;
      url.hasPassword = true;
    }
    if (settings.sentinelPassword && url.scheme == BrokerUrl::Scheme::RedisSentinel) {
      url.sentinelPassword = *settings.sentinelPassword;
    }
  }
  options.url = options.urls.front();
  options.tls = resolveTls(settings, names, options.url);
  validateQueueName(settings.queue, names.queue);
  validateShards(settings, names, options.url);
  options.shards = settings.shards;
  options.newQueues = resolveQueueDeclaration(settings, names, options.url);
  return options;
}

}  // namespace logship
