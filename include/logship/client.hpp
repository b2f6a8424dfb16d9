#pragma once
// logship::Client: ships an application's log records straight to Logship's broker (RabbitMQ or
// Redis), where log_aggregator workers write them out, with the guarantees of log_producer.
//
//   logship::ClientOptions options;
//   options.broker = "amqp://logship@mq.example:5672/";  // password: LOGSHIP_PASSWORD or passwordFile
//   options.service = "checkout";
//   logship::Client client(options);
//   client.log(logship::Level::Info, "order placed", {{"order", id}, {"amount", amount}});
//   // ~Client: waits up to options.flushTimeout for the broker to confirm, then stops
//
// This header shows standard types only (no broker library, no Logship internals): link the
// shared library with CMake's find_package(logship) and target logship::client (README, "Client
// library"). An spdlog sink built on it is in <logship/spdlog_sink.hpp>.
//
// The library reports its own problems (the broker unreachable, records lost at close: one line
// each, never a password) through spdlog's default logger, which writes to stdout until the
// application sets another (spdlog::set_default_logger(spdlog::stderr_color_mt("app")), say).
// Records are never logged there. The library's own threads never feed a logship sink, so such a
// logger may also ship to Logship.
//
// How it works (docs/ARCHITECTURE.md, "The client library"): log() only copies the record into a
// bounded in-memory queue, under a mutex held for a few pointer moves; a background thread takes
// the queue's records in bulk and hands them to the same pipeline log_producer uses (batching,
// publisher confirms, reconnecting, the optional spool on disk). What the client guarantees, and
// what it does not, is in docs/RELIABILITY.md ("The client library").
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <logship/level.hpp>

#if defined(__GNUC__)
#define LOGSHIP_CLIENT_API __attribute__((visibility("default")))
#else
#define LOGSHIP_CLIENT_API
#endif

namespace logship {

// What log() does when the queue is full.
enum class OverflowPolicy {
  Drop,   // refuse the record at once: log() returns false, stats().dropped counts it (the default)
  Block,  // wait until the background thread has made room (or close() runs)
};

struct ClientOptions {
  // ---- the broker ---------------------------------------------------------------------------
  // amqp://USER@HOST[:PORT][/VHOST], amqps://... (TLS), redis://[USER@]HOST[:PORT][/DB] or
  // redis-sentinel://HOST[:PORT]/MASTER_NAME[/DB] (one per sentinel; the sentinels' password, if
  // they want one, in LOGSHIP_SENTINEL_PASSWORD) (docs/FORMATS.md, "Broker URLs"); several
  // separated by commas (the nodes of a cluster, the sentinels of one master) are tried in turn. Empty: the environment
  // variable LOGSHIP_BROKER, else amqp://guest:guest@localhost:5672/.
  std::string broker;
  // The password, read at construction from the first line of this file. Overrides passwordEnv
  // and a password in the URL. Never put a password in code or on a command line.
  std::string passwordFile;
  // Else the password is the value of this environment variable (if set and not empty), else the
  // URL's. "" reads no environment variable.
  std::string passwordEnv = "LOGSHIP_PASSWORD";
  std::string queue = "logs_queue";
  // RabbitMQ: the queue is split into this many queues behind a consistent-hash exchange (as the
  // programs' --shards N; give the same N as they do: another N, or 0 on a sharded queue, is refused
  // as a wrong password is, and stats().lastError names the N to give); 0: one queue. Redis refuses it.
  std::uint32_t shards = 0;
  // amqps:// only: PEM files of the CAs to trust (default: the system's store), and a client
  // certificate with its unencrypted key (both or neither). requireTls refuses other URLs.
  std::string tlsCa;
  std::string tlsCert;
  std::string tlsKey;
  bool requireTls = false;
  // RabbitMQ: how `queue` is declared if it does not exist yet ("classic", "quorum" or "stream",
  // as log_producer --queue-type; a stream's retention as --stream-max-age "7D" and
  // --stream-max-bytes, 0 = none). An existing queue is used as it is, whatever its type.
  std::string queueType = "classic";
  std::string streamMaxAge;
  std::uint64_t streamMaxBytes = 0;

  // ---- the records --------------------------------------------------------------------------
  std::string service;  // the records' service (at most 255 bytes); empty: the program's name
  std::string host;     // at most 255 bytes; empty: this machine's host name
  // Fields on every record (KEY=VALUE; keys of letters, digits, '_', '.', '-', at most 128 bytes;
  // 64 KiB of keys and values at most), before a record's own.
  std::vector<std::pair<std::string, std::string>> fields;
  // Longer messages are refused by log() (counted as dropped).
  std::size_t maxMessageBytes = 1024 * 1024;

  // ---- the queue between log() and the background thread ------------------------------------
  std::size_t queueRecords = 100'000;         // at most this many records ...
  std::size_t queueBytes = 16 * 1024 * 1024;  // ... and this many bytes of text (messages and fields)
  OverflowPolicy overflow = OverflowPolicy::Drop;

  // ---- after the queue ----------------------------------------------------------------------
  // Empty: records wait for the broker's confirm in memory only. A directory: every record is
  // written there (a spool, as log_producer --spool-dir) as soon as the background thread takes
  // it, and stays until the broker confirmed it; a broker outage of any length loses nothing, and
  // what is not confirmed at close() is sent by the next Client (or log_producer) on the same
  // directory. One client per directory (a second one is refused at construction).
  std::string spoolDir;
  std::uint64_t spoolMaxBytes = 1024ULL * 1024 * 1024;  // the spool's cap on disk; at the cap it waits
  // close() (and so the destructor) first waits this long for the broker to confirm everything.
  std::chrono::milliseconds flushTimeout{5'000};
  // Without a spoolDir: a broken connection is retried this long, resending what was not
  // confirmed; after that, those records count as failed and the client starts connecting anew.
  std::chrono::milliseconds reconnectFor{300'000};
  std::chrono::milliseconds connectTimeout{5'000};  // one connection attempt
  // Batching, as log_producer --batch-records / --linger-ms: up to batchRecords records of the
  // same level, service and fields per broker message, waiting at most linger for more.
  std::size_t batchRecords = 1000;
  std::chrono::milliseconds linger{5};
  // As log_producer --compress: "none" (default), "zstd" or "zstd:LEVEL" (1 to 19) for the bodies of
  // batches (docs/FORMATS.md, "Compressed batches"). Every Logship reader inflates them.
  std::string compress = "none";
  std::string clientName = "logship-client";  // shown by rabbitmqctl list_connections
  // Redis only: records count as confirmed once `WAIT waitReplicas waitTimeout` reports that many
  // replicas have them, so a Sentinel failover cannot lose them (docs/RELIABILITY.md, "Redis
  // Sentinel"); fewer: sent again. 0: confirmed once the master has them.
  int waitReplicas = 0;
  std::chrono::milliseconds waitTimeout{5'000};
};

// A field of one record. The views must stay valid only during the log() call. As log_producer
// does with its inputs' fields: bytes of a key other than letters, digits, '_', '.' and '-' become
// '_' (an empty key "_", at most 128 bytes), a key given twice gets "_2", "_3", ... and a record's
// fields past 64 KiB (keys and values, with ClientOptions::fields) are left out and counted in a
// last field fields_dropped=N: the metadata always fits a broker message.
struct FieldView {
  std::string_view key;
  std::string_view value;
};

// One record with everything it can say (log(Level, message, fields) covers the usual case).
struct LogEntry {
  Level level = Level::Info;
  std::string_view message;
  std::span<const FieldView> fields;             // after ClientOptions::fields
  std::string_view service;                      // empty: ClientOptions::service; cut to 255 bytes
  std::chrono::system_clock::time_point time{};  // the epoch (default): now
};

// Counts since construction. accepted + recovered = confirmed + failed + pending.
struct ClientStats {
  std::uint64_t accepted = 0;   // records log() took (it returned true)
  std::uint64_t dropped = 0;    // records log() refused (it returned false): the queue was full
                                // (OverflowPolicy::Drop), the message was over maxMessageBytes,
                                // or the client was closed
  std::uint64_t confirmed = 0;  // the broker confirmed them: they are safe
  // Accepted and never to be confirmed by this client: the broker refused them, or (without a
  // spoolDir) the connection stayed broken past reconnectFor, or close() gave up on them.
  std::uint64_t failed = 0;
  // Accepted and not settled yet: in the queue, the spool or in flight. After close() with a
  // spoolDir: what stays in the spool for the next run.
  std::uint64_t pending = 0;
  std::uint64_t recovered = 0;  // with a spoolDir: records an earlier run left there (sent first)
  bool connected = false;       // connected to the broker now
  std::string lastError;        // the last connection problem ("" if none), never with a password
};

// The client's configuration was refused at construction (a bad URL, an unreadable password or
// TLS file, a bad queue name or field key, a spool directory that cannot be used or is in use).
// what() is one line that names the option. Once constructed, a client never throws from log(),
// flush(), stats() or close(): broker outages are counted and logged, not thrown.
class LOGSHIP_CLIENT_API ClientError : public std::runtime_error {
 public:
  explicit ClientError(const std::string& what);
  ~ClientError() override;
};

// Thread-safe: any thread may call log(), flush() and stats() at any time, and close() once or
// more. Movable, not copyable (a moved-from client logs nothing).
//
// Exit: the destructor calls close(). A client still open when the program exits (returning from
// main, or exit()) is closed then too, by a handler registered with atexit(): a client owned by
// main, a global one, one held by an spdlog logger, even a leaked one, flushes at exit. _exit(),
// quick_exit(), abort(), a crash and an unhandled signal do not run it.
class LOGSHIP_CLIENT_API Client {
 public:
  // Checks the options and starts the background thread. Connects in the background: a broker that
  // is down (or a wrong password) is not an error here, records wait in the queue (or the spool)
  // meanwhile, and stats().lastError says what is wrong. Throws ClientError.
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Queues one record, stamped with the current time. Never blocks with OverflowPolicy::Drop,
  // never throws. True: accepted (the client is now responsible for it); false: dropped (counted).
  bool log(Level level, std::string_view message);
  bool log(Level level, std::string_view message, std::initializer_list<FieldView> fields);
  bool log(const LogEntry& entry);

  // Waits until every record accepted before the call is settled, at most `timeout`. True when they
  // all were and none failed meanwhile (the broker confirmed them); false on timeout or failure
  // (stats() says which). Records logged meanwhile by other threads are not waited for.
  bool flush(std::chrono::milliseconds timeout);

  // flush(options.flushTimeout), then stops the background work. log() refuses records from its
  // start. What is not confirmed then: with a spoolDir it stays in the spool (stats().pending) for
  // the next client on that directory; without one it is lost, counted in stats().failed, and one
  // error line says how many. Idempotent.
  void close();

  ClientStats stats() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace logship
