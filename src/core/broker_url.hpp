#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace logship {

// A parsed --broker URL:
//   amqp://[USER[:PASSWORD]@]HOST[:PORT][/VHOST]     (default port 5672, vhost "/", guest/guest)
//   amqps://...                                       (default port 5671)
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]        (default port 6379, db 0)
//   redis-sentinel://[:PASSWORD@]HOST[:PORT]/MASTER_NAME[/DB]   (one Redis Sentinel; default port
//     26379). PASSWORD is the sentinels' own; the data nodes' password is `password` (from
//     --password-file / LOGSHIP_PASSWORD, as for redis://). The master is found by asking the
//     sentinels (broker/redis/sentinel.hpp).
// User, password and vhost are percent-decoded ("%2f" is "/"). IPv6 hosts go in brackets.
struct BrokerUrl {
  enum class Scheme { Amqp, Amqps, Redis, RedisSentinel };
  Scheme scheme = Scheme::Amqp;
  std::string host = "localhost";
  uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  bool hasPassword = false;  // the URL itself carried a password
  std::string vhost = "/";
  int db = 0;
  // redis-sentinel:// only: the master's name in the sentinels' configuration, and the sentinels'
  // password (from the URL or LOGSHIP_SENTINEL_PASSWORD; empty: they require none).
  std::string masterName;
  std::string sentinelPassword;

  // redis:// or redis-sentinel://: served by the Redis adapter.
  bool isRedis() const { return scheme == Scheme::Redis || scheme == Scheme::RedisSentinel; }

  // The URL with the password replaced by "***": the only form that may be printed or logged.
  std::string redacted() const;
};

inline constexpr std::string_view kDefaultBrokerUrl = "amqp://guest:guest@localhost:5672/";

// Throws UsageError naming what is wrong (never echoing the password).
BrokerUrl parseBrokerUrl(std::string_view text);

}  // namespace logship
