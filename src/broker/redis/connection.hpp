#pragma once
// RAII over a hiredis connection. Every hiredis failure is turned into a typed error here, so the
// rest of the adapter never inspects C codes. Blocking calls are bounded: the socket carries send
// and receive timeouts of BrokerOptions::rpcTimeout.
#include <hiredis/hiredis.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/options.hpp"

namespace logship::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

inline std::string_view replyText(const redisReply& r) { return {r.str, r.len}; }

class RedisConnection {
 public:
  // Connects (one attempt; retrying is the caller's, see broker/reconnecting.hpp), authenticates,
  // selects the database and names the client. A redis-sentinel:// URL: to the master the sentinels
  // name, asked afresh (broker/redis/sentinel.hpp). Throws ConnectionError (unreachable, timed out) or
  // BrokerRefusedError (wrong or missing password, bad database).
  static RedisConnection open(const BrokerOptions& options);

  RedisConnection(RedisConnection&&) noexcept = default;
  RedisConnection& operator=(RedisConnection&&) noexcept = default;
  ~RedisConnection() = default;

  // Sends one command and waits for its reply. An error reply is thrown as BrokerRefusedError
  // "<what>: <server's text>"; `what` names the operation.
  Reply command(std::initializer_list<std::string_view> args, std::string_view what);
  Reply command(std::span<const std::string_view> args, std::string_view what);
  // Like command(), but an error reply is returned (type REDIS_REPLY_ERROR) instead of thrown.
  Reply request(std::initializer_list<std::string_view> args, std::string_view what);

  // For a command whose bulk-string reply is not wanted (BLMOVE Q Q LEFT LEFT only waits for a
  // record): such a reply is read off the socket in chunks and dropped, never held whole (hiredis
  // reads a reply whole, and a value may be far over --max-message-bytes). Returns false for a nil
  // reply, true otherwise; an error reply is thrown as by command().
  bool commandDroppingBulk(std::initializer_list<std::string_view> args, std::string_view what);

  // Pipelining: queue commands, send them all, then read their replies in order.
  void append(std::span<const std::string_view> args);
  void flush(std::string_view what);
  // The next reply (error replies are returned, not thrown). Waits at most the RPC timeout.
  Reply read(std::string_view what);
  // The next reply if one arrives within `wait` (0: only what is already here), else nullptr.
  Reply tryRead(std::chrono::milliseconds wait, std::string_view what);

  // "7.0.15": the server's version, from INFO server.
  std::string serverVersion();

 private:
  struct Deleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
  };
  RedisConnection() = default;
  [[noreturn]] void throwContextError(std::string_view what);
  // AUTH (with a password) and PING, then SELECT (a database other than 0), as open() does them.
  // A server that does not answer, or answers in something other than Redis' protocol, is told as such.
  void handshake(const BrokerOptions& options, const std::string& where);
  void authenticateAndPing(const BrokerOptions& options, const std::string& where);
  void selectDatabase(const BrokerOptions& options, const std::string& where);
  Reply nextFromReader(std::string_view what);
  // With nothing of a reply buffered by hiredis: reads the next reply off the socket and drops it if
  // it is a bulk string (returns true), else leaves it for hiredis (returns false).
  bool dropBulkReply(std::string_view what);
  [[noreturn]] void throwSocketError(std::string_view what);

  std::unique_ptr<redisContext, Deleter> ctx_;
  std::chrono::milliseconds rpcTimeout_{15'000};
};

// Error replies that mean "not now" rather than "no": a server loading its data after a restart,
// busy in a script, a replica without its master, or a replica where a master was (READONLY: after
// a failover), or a master without the replicas min-replicas-to-write asks for (NOREPLICAS). Worth retrying like an
// unreachable server.
bool isTransient(std::string_view errorText);

// The server's version as a comparable number: "6.2.1" -> 60201.
int versionNumber(std::string_view version);

}  // namespace logship::redis
