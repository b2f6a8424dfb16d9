#include "core/broker_url.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship {
namespace {

std::string percentDecode(std::string_view in, std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) {
      throw UsageError(fmt::format("bad broker URL: truncated percent-escape in the {}", what));
    }
    const int hi = hexDigitValue(in[i + 1]);
    const int lo = hexDigitValue(in[i + 2]);
    if (hi < 0 || lo < 0) throw UsageError(fmt::format("bad broker URL: invalid percent-escape in the {}", what));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

int parseRedisDb(std::string_view text) {
  int db = -1;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), db);
  if (ec != std::errc{} || ptr != text.data() + text.size() || db < 0 || db > 1'000'000) {
    throw UsageError("bad broker URL: invalid Redis database (must be a number after the '/')");
  }
  return db;
}

// In a redis-sentinel:// URL the user info is the sentinels' password (":PASSWORD@"); the data
// nodes' password is given separately, as for redis://.
void takeSentinelPassword(BrokerUrl& url) {
  if (!url.user.empty()) {
    throw UsageError("bad broker URL: redis-sentinel:// takes no user name (write redis-sentinel://:PASSWORD@HOST)");
  }
  url.sentinelPassword = std::move(url.password);
  url.password.clear();
  url.hasPassword = false;
}

}  // namespace

std::string BrokerUrl::redacted() const {
  std::string out;
  switch (scheme) {
    case Scheme::Amqp: out = "amqp://"; break;
    case Scheme::Amqps: out = "amqps://"; break;
    case Scheme::Redis: out = "redis://"; break;
    case Scheme::RedisSentinel: out = "redis-sentinel://"; break;
  }
  if (scheme == Scheme::RedisSentinel) {
    if (!sentinelPassword.empty()) out += ":***@";
  } else if (scheme == Scheme::Redis) {
    if (hasPassword) out += user.empty() ? ":***@" : user + ":***@";
  } else {
    out += user + (hasPassword ? ":***@" : "@");
  }
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += fmt::format(":{}", port);
  if (scheme == Scheme::RedisSentinel) {
    out += fmt::format("/{}/{}", escaped(masterName), db);
  } else if (scheme == Scheme::Redis) {
    out += fmt::format("/{}", db);
  } else {
    out += vhost == "/" ? "/" : "/" + vhost;
  }
  return out;
}

BrokerUrl parseBrokerUrl(std::string_view text) {
  BrokerUrl url;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    throw UsageError(
        "bad broker URL: expected amqp://, amqps://, redis://HOST[:PORT] or redis-sentinel://HOST[:PORT]/MASTER_NAME");
  }
  const std::string_view scheme = text.substr(0, sep);
  std::string_view rest = text.substr(sep + 3);
  if (scheme == "amqp") {
    url.scheme = BrokerUrl::Scheme::Amqp;
  } else if (scheme == "amqps") {
    url.scheme = BrokerUrl::Scheme::Amqps;
    url.port = 5671;
  } else if (scheme == "redis") {
    url.scheme = BrokerUrl::Scheme::Redis;
    url.port = 6379;
    url.user.clear();
    url.password.clear();
  } else if (scheme == "redis-sentinel") {
    url.scheme = BrokerUrl::Scheme::RedisSentinel;
    url.port = 26379;
    url.user.clear();
    url.password.clear();
  } else if (scheme == "rediss") {
    throw UsageError(
        "bad broker URL: rediss:// (Redis over TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; "
        "use redis:// on a trusted network or through a TLS tunnel, or amqps://");
  } else {
    throw UsageError(fmt::format("bad broker URL: unknown scheme '{}' (use amqp, amqps, redis or redis-sentinel)",
                                 escaped(scheme.substr(0, 16))));
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    throw UsageError("bad broker URL: query strings and fragments are not supported");
  }
  for (char c : rest) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      throw UsageError("bad broker URL: contains a space or control character");
    }
  }

  // Split authority and path.
  const auto slash = rest.find('/');
  if (slash != std::string_view::npos && rest.find('@', slash) != std::string_view::npos) {
    throw UsageError("bad broker URL: '@' after a '/': write a '/' in the user name or password as %2F");
  }
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      url.user = percentDecode(userinfo, "user name");
      url.password.clear();  // a user without a password: LOGSHIP_PASSWORD or --password-file give it
    } else {
      url.user = percentDecode(userinfo.substr(0, colon), "user name");
      url.password = percentDecode(userinfo.substr(colon + 1), "password");
      url.hasPassword = true;
    }
    if (!url.isRedis() && url.user.empty()) throw UsageError("bad broker URL: empty user name");
    if (url.scheme == BrokerUrl::Scheme::RedisSentinel) takeSentinelPassword(url);
  }

  std::string_view portText;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw UsageError("bad broker URL: unclosed '[' in IPv6 host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw UsageError("bad broker URL: unexpected text after IPv6 host");
      portText = after.substr(1);
      if (portText.empty()) throw UsageError("bad broker URL: empty port");
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
      if (portText.empty()) throw UsageError("bad broker URL: empty port");
    }
  }
  if (url.host.empty()) throw UsageError("bad broker URL: missing host");
  if (!portText.empty()) {
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc{} || ptr != portText.data() + portText.size() || port == 0 || port > 65535) {
      // The port text is not echoed: in "amqp://user:secret" it is a password.
      throw UsageError("bad broker URL: invalid port (must be a number from 1 to 65535)");
    }
    url.port = static_cast<uint16_t>(port);
  }

  if (url.scheme == BrokerUrl::Scheme::RedisSentinel) {
    const auto cut = path.find('/');
    url.masterName = percentDecode(path.substr(0, cut), "master name");
    if (url.masterName.empty()) {
      throw UsageError(
          "bad broker URL: redis-sentinel:// needs the master's name: redis-sentinel://HOST:PORT/MASTER_NAME");
    }
    if (cut != std::string_view::npos) url.db = parseRedisDb(path.substr(cut + 1));
  } else if (url.scheme == BrokerUrl::Scheme::Redis) {
    if (!path.empty()) url.db = parseRedisDb(path);
  } else {
    // Both "amqp://host" and "amqp://host/" mean the default vhost "/", as most users expect;
    // "amqp://host/%2f" is "/" too, "amqp://host/prod" is "prod".
    if (path.find('/') != std::string_view::npos) {
      throw UsageError("bad broker URL: a '/' inside the vhost must be written %2f");
    }
    url.vhost = path.empty() ? "/" : percentDecode(path, "vhost");
  }
  return url;
}

}  // namespace logship
