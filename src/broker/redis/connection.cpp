#include "broker/redis/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/redis/sentinel.hpp"
#include "broker/tcp_connect.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/host.hpp"

namespace logship::redis {
namespace {

bool isError(const redisReply& r) { return r.type == REDIS_REPLY_ERROR; }

}  // namespace

bool isTransient(std::string_view text) {
  return text.starts_with("LOADING") || text.starts_with("BUSY") || text.starts_with("MASTERDOWN") ||
         text.starts_with("TRYAGAIN") ||
         // A replica now (the master moved in a failover): a reconnect through the sentinels finds the new one.
         text.starts_with("READONLY") ||
         // min-replicas-to-write not met: the replicas are behind or gone (a failover may follow).
         text.starts_with("NOREPLICAS");
}

namespace {

// Redis client names may not contain spaces.
std::string clientNameFor(const BrokerOptions& options) {
  std::string name = fmt::format("{}@{}/pid-{}", options.clientName, localHostName(), getpid());
  std::replace_if(
      name.begin(), name.end(), [](char c) { return c <= ' ' || c == 0x7f; }, '_');
  return name;
}

}  // namespace

namespace {

void throwIfError(const redisReply& reply, std::string_view what) {
  if (!isError(reply)) return;
  if (isTransient(replyText(reply))) {
    throw ConnectionError(fmt::format("{}: Redis is not ready: {}", what, escaped(replyText(reply))));
  }
  throw BrokerRefusedError(0, fmt::format("{}: Redis refused: {}", what, escaped(replyText(reply))));
}

}  // namespace

int versionNumber(std::string_view version) {
  int parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int& p : parts) {
    while (i < version.size() && version[i] >= '0' && version[i] <= '9') p = p * 10 + (version[i++] - '0');
    if (i < version.size() && version[i] == '.') ++i;
  }
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

void RedisConnection::throwContextError(std::string_view what) {
  const int err = ctx_ ? ctx_->err : REDIS_ERR_OTHER;
  const std::string text = ctx_ ? std::string(ctx_->errstr) : "no connection";
  if (err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    throw TimeoutError(fmt::format("{}: no answer from Redis within {} ms", what, rpcTimeout_.count()));
  }
  if (err == REDIS_ERR_EOF) throw ConnectionError(fmt::format("{}: Redis closed the connection", what));
  throw ConnectionError(fmt::format("{}: {}", what, text));
}

RedisConnection RedisConnection::open(const BrokerOptions& options) {
  if (options.url.scheme == BrokerUrl::Scheme::RedisSentinel) return openMasterThroughSentinels(options);
  RedisConnection conn;
  conn.rpcTimeout_ = options.rpcTimeout;
  const auto where = options.url.redacted();
  int fd = -1;
  try {
    fd = connectTcp(options.url.host, options.url.port, options.connectTimeout);
  } catch (const ConnectionError& e) {
    throw ConnectionError(fmt::format("cannot connect to {}: {}", where, e.what()));
  }
  // hiredis' blocking mode wants a blocking socket; SO_RCVTIMEO/SO_SNDTIMEO bound every call.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  conn.ctx_.reset(redisConnectFd(fd));
  if (!conn.ctx_) {
    close(fd);
    throw ConnectionError("out of memory creating a Redis connection");
  }
  if (conn.ctx_->err != 0) conn.throwContextError(fmt::format("connecting to {}", where));
  redisSetTimeout(conn.ctx_.get(), toTimeval(options.connectTimeout));
  redisEnableKeepAlive(conn.ctx_.get());

  conn.handshake(options, where);
  conn.command({"CLIENT", "SETNAME", clientNameFor(options)}, "naming the connection");
  redisSetTimeout(conn.ctx_.get(), toTimeval(options.rpcTimeout));
  return conn;
}

void RedisConnection::handshake(const BrokerOptions& options, const std::string& where) {
  try {
    authenticateAndPing(options, where);
  } catch (const TimeoutError&) {
    throw TimeoutError(noHandshakeAnswer(where, "Redis", options.connectTimeout));
  } catch (const ConnectionError&) {
    if (!ctx_ || ctx_->err != REDIS_ERR_PROTOCOL) throw;
    // Another server's greeting ("AMQP..." from RabbitMQ): retrying cannot help.
    throw BrokerRefusedError(
        0, fmt::format("{} does not answer as a Redis server ({}): is port {} the Redis port? (5672 is RabbitMQ's "
                       "AMQP port: use amqp:// for it; Redis listens on 6379 by default)",
                       where, escaped(ctx_->errstr), options.url.port));
  }
  selectDatabase(options, where);
}

void RedisConnection::authenticateAndPing(const BrokerOptions& options, const std::string& where) {
  const std::string& password = options.url.password;
  if (!password.empty()) {
    Reply reply = options.url.user.empty() ? request({"AUTH", password}, "authenticating")
                                           : request({"AUTH", options.url.user, password}, "authenticating");
    const std::string_view text = replyText(*reply);
    if (isError(*reply)) {
      if (text.find("without any password configured") != std::string_view::npos) {
        spdlog::warn("{} has no password set, but one was given: ignoring it (set requirepass on the server)", where);
      } else if (text.starts_with("WRONGPASS") || text.find("invalid password") != std::string_view::npos) {
        throw BrokerRefusedError(0, fmt::format("login to {} refused: wrong password or user name (WRONGPASS)", where));
      } else {
        throw BrokerRefusedError(0, fmt::format("login to {} refused: {}", where, escaped(text)));
      }
    }
  }
  // PING finds out whether the server wants a password we do not have, and whether it is ready.
  if (Reply reply = request({"PING"}, "PING"); isError(*reply)) {
    const std::string_view text = replyText(*reply);
    if (isTransient(text)) throw ConnectionError(fmt::format("{} is not ready: {}", where, escaped(text)));
    if (text.starts_with("NOAUTH")) {
      throw BrokerRefusedError(0, fmt::format("{} requires a password (NOAUTH): give it in the URL "
                                              "(redis://:PASSWORD@host), with --password-file or in LOGSHIP_PASSWORD",
                                              where));
    }
    throw BrokerRefusedError(0, fmt::format("{} refused PING: {}", where, escaped(text)));
  }
}

void RedisConnection::selectDatabase(const BrokerOptions& options, const std::string& where) {
  if (options.url.db == 0) return;
  const std::string db = std::to_string(options.url.db);
  Reply reply = request({"SELECT", db}, "selecting the database");
  if (!isError(*reply)) return;
  const std::string text(replyText(*reply));
  std::string hint;
  if (text.find("out of range") != std::string::npos) {
    // How many the server has: `databases` in its configuration (CONFIG may be disabled by ACLs).
    hint = ": Redis has databases 0 to 15 unless `databases` in redis.conf says otherwise";
    if (Reply n = request({"CONFIG", "GET", "databases"}, "asking for the number of databases");
        n->type == REDIS_REPLY_ARRAY && n->elements == 2 && n->element[1]->type == REDIS_REPLY_STRING) {
      const int count = std::atoi(n->element[1]->str);
      if (count > 0) hint = fmt::format(": this server has databases 0 to {} (`databases` in redis.conf)", count - 1);
    }
    hint += "; give one of them after the / in the URL";
  }
  throw BrokerRefusedError(0, fmt::format("{}: cannot select database {}: {}{}", where, db, escaped(text), hint));
}

Reply RedisConnection::command(std::initializer_list<std::string_view> args, std::string_view what) {
  return command(std::span<const std::string_view>(args.begin(), args.size()), what);
}

Reply RedisConnection::command(std::span<const std::string_view> args, std::string_view what) {
  append(args);
  flush(what);
  Reply reply = read(what);
  throwIfError(*reply, what);
  return reply;
}

Reply RedisConnection::request(std::initializer_list<std::string_view> args, std::string_view what) {
  append(std::span<const std::string_view>(args.begin(), args.size()));
  flush(what);
  return read(what);
}

void RedisConnection::append(std::span<const std::string_view> args) {
  constexpr size_t kStack = 16;
  const char* argvStack[kStack];
  size_t lenStack[kStack];
  std::vector<const char*> argvHeap;
  std::vector<size_t> lenHeap;
  const char** argv = argvStack;
  size_t* lens = lenStack;
  if (args.size() > kStack) {
    argvHeap.resize(args.size());
    lenHeap.resize(args.size());
    argv = argvHeap.data();
    lens = lenHeap.data();
  }
  for (size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv, lens) != REDIS_OK) {
    throwContextError("queueing a Redis command");
  }
}

void RedisConnection::flush(std::string_view what) {
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) throwContextError(what);
  }
}

bool RedisConnection::commandDroppingBulk(std::initializer_list<std::string_view> args, std::string_view what) {
  append(std::span<const std::string_view>(args.begin(), args.size()));
  flush(what);
  // A request-reply connection: once the previous reply was taken, hiredis buffers nothing more.
  if (ctx_->reader->pos == ctx_->reader->len && dropBulkReply(what)) return true;
  Reply reply = read(what);
  throwIfError(*reply, what);
  return reply->type != REDIS_REPLY_NIL;
}

void RedisConnection::throwSocketError(std::string_view what) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    throw TimeoutError(fmt::format("{}: no answer from Redis within {} ms", what, rpcTimeout_.count()));
  }
  throw ConnectionError(fmt::format("{}: {}", what, std::strerror(errno)));
}

bool RedisConnection::dropBulkReply(std::string_view what) {
  // RESP bulk string: "$<length>\r\n<bytes>\r\n". Its length line is peeked at (left in the socket
  // for hiredis unless this is a bulk string), then the whole reply is read in chunks and dropped.
  char head[32];
  const auto giveUpAt = Clock::now() + rpcTimeout_;
  for (;;) {
    const ssize_t n = recv(ctx_->fd, head, sizeof head, MSG_PEEK);
    if (n == 0) throw ConnectionError(fmt::format("{}: Redis closed the connection", what));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSocketError(what);
    }
    if (head[0] != '$' || (n > 1 && head[1] == '-')) return false;  // not a bulk string, or nil
    const char* cr = static_cast<const char*>(std::memchr(head, '\r', static_cast<size_t>(n)));
    if (cr == nullptr || cr + 1 >= head + n) {
      if (static_cast<size_t>(n) == sizeof head) return false;  // no length line: hiredis tells what it is
      if (Clock::now() >= giveUpAt) throwSocketError(what);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the rest of the line is on its way
      continue;
    }
    size_t length = 0;
    const auto [end, ec] = std::from_chars(head + 1, cr, length);
    if (ec != std::errc() || end != cr) return false;
    size_t left = static_cast<size_t>(cr + 2 - head) + length + 2;
    char chunk[16384];
    while (left > 0) {
      const ssize_t got = recv(ctx_->fd, chunk, std::min(left, sizeof chunk), 0);
      if (got == 0) throw ConnectionError(fmt::format("{}: Redis closed the connection", what));
      if (got < 0) {
        if (errno == EINTR) continue;
        throwSocketError(what);
      }
      left -= static_cast<size_t>(got);
    }
    return true;
  }
}

Reply RedisConnection::nextFromReader(std::string_view what) {
  void* raw = nullptr;
  if (redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK) throwContextError(what);
  return Reply(static_cast<redisReply*>(raw));
}

Reply RedisConnection::read(std::string_view what) {
  Reply reply = nextFromReader(what);
  while (!reply) {
    // A blocking read, bounded by SO_RCVTIMEO; hiredis retries reads interrupted by signals.
    if (redisBufferRead(ctx_.get()) != REDIS_OK) throwContextError(what);
    reply = nextFromReader(what);
  }
  return reply;
}

Reply RedisConnection::tryRead(std::chrono::milliseconds wait, std::string_view what) {
  Reply reply = nextFromReader(what);
  if (reply) return reply;
  const auto deadline = Clock::now() + wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{ctx_->fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (n < 0 && errno != EINTR) throw ConnectionError(fmt::format("{}: poll: {}", what, std::strerror(errno)));
    if (n > 0) {
      if (redisBufferRead(ctx_.get()) != REDIS_OK) throwContextError(what);
      reply = nextFromReader(what);
      if (reply) return reply;
    }
    if (left.count() <= 0) return nullptr;
  }
}

std::string RedisConnection::serverVersion() {
  Reply info = command({"INFO", "server"}, "asking Redis for its version");
  const std::string_view text = replyText(*info);
  constexpr std::string_view key = "redis_version:";
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return "unknown";
  const size_t end = text.find_first_of("\r\n", at);
  return std::string(text.substr(at + key.size(), end - at - key.size()));
}

}  // namespace logship::redis
