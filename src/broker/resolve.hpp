#pragma once
// From what a user wrote about the broker (a program's flags, the client library's options) to
// checked BrokerOptions: the URL list, the password applied to it, the TLS files, the queue name.
// Shared by the programs (cli::resolveBroker adds the password's precedence over a configuration
// file) and the client library (src/client/), so both accept and refuse exactly the same things.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/options.hpp"

namespace logship {

struct BrokerSettings {
  std::string urls;                     // one URL or several separated by commas; empty: kDefaultBrokerUrl
  std::optional<std::string> password;  // already read (file, environment): replaces every URL's password
  // redis-sentinel:// only: the sentinels' password, already read (environment); replaces the URLs'.
  std::optional<std::string> sentinelPassword;
  std::string queue = "logs_queue";
  TlsOptions tls;           // amqps:// only
  bool requireTls = false;  // refuse amqp:// and redis:// URLs
  uint32_t shards = 0;      // RabbitMQ: the queue is split into this many (0: not split)
  // How a missing log queue is declared (QueueDeclaration; RabbitMQ only).
  std::string queueType = "classic";  // classic, quorum or stream
  std::string streamMaxAge;           // stream only: "7D", as RabbitMQ's x-max-age
  uint64_t streamMaxBytes = 0;        // stream only
};

// The names the error messages give the settings: the programs' flags by default; the client
// library passes its option names.
struct BrokerSettingNames {
  const char* broker = "--broker";
  const char* queue = "--queue";
  const char* tlsCa = "--tls-ca";
  const char* tlsCert = "--tls-cert";
  const char* tlsKey = "--tls-key";
  const char* requireTls = "--require-tls";
  const char* shards = "--shards";
  const char* queueType = "--queue-type";
  const char* streamMaxAge = "--stream-max-age";
  const char* streamMaxBytes = "--stream-max-bytes";
};

// Parses the URLs (all of one scheme; redis-sentinel:// ones all naming the same master and
// database), applies the passwords, checks the TLS settings (files
// readable and not empty, only with amqps://, certificate and key together; requireTls refuses
// plain URLs), the queue name and the shards (RabbitMQ only, at most amqp::kMaxShards, names within
// 255 bytes). Sets url, urls, tls and shards; the deadlines and the client name keep
// their defaults. Throws UsageError naming the setting, never echoing a password.
BrokerOptions resolveBrokerSettings(const BrokerSettings& settings, const BrokerSettingNames& names = {});

// --shard-ids: each id below `shards` (which must be set), none twice. Throws UsageError.
void validateShardIds(const std::vector<uint32_t>& ids, uint32_t shards, const char* name = "--shard-ids");
// Whether `age` is a stream's x-max-age as RabbitMQ takes it: a whole number (at least 1) and one
// unit Y, M, D, h, m or s ("7D", "12h"; M is months, m minutes).
bool validStreamMaxAge(std::string_view age);
// --wait-replicas N / --wait-timeout (the client library: waitReplicas, waitTimeout): sets them on
// `options` (BrokerOptions::waitReplicas). N > 0 needs a Redis broker URL; the timeout must be at
// least 1 ms (WAIT with 0 would wait forever). Throws UsageError naming `name`.
void applyWaitReplicas(BrokerOptions& options, int replicas, std::chrono::milliseconds timeout,
                       const char* name = "--wait-replicas");

// A queue name is 1 to 250 bytes, without control characters, not starting with "amq.". Throws
// UsageError naming the setting.
void validateQueueName(const std::string& queue, const char* name = "--queue");

}  // namespace logship
