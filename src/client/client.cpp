// The client library (include/logship/client.hpp): a thin layer over the producer's Shipper.
//
// Threads: the application's threads call log(), which only moves a record into the RecordQueue.
// One background thread per client (work()) takes the queue's records in bulk, turns each into a
// Record and hands it to the Shipper (ship(): batching, then the spool), whose own sender thread
// publishes and collects the broker's confirms. Without a spool directory the Shipper is made on the
// background thread, since it connects first (blocking until the broker answers); with one it is
// made at construction (the spool's directory and lock are checked there) and connects in the
// background itself.
//
// What the library logs (connection problems, records lost at close) goes through spdlog's default
// logger, from the library's own threads or from close(). Those threads are marked (tLibraryThread)
// and log() refuses records from them without counting them, so an spdlog logger that feeds a
// logship sink never sends the library's own messages into the client that reports them (no
// recursion, no deadlock with OverflowPolicy::Block).
#include <logship/client.hpp>

#include <errno.h>  // program_invocation_short_name
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/connection_status.hpp"
#include "broker/factory.hpp"
#include "broker/resolve.hpp"
#include "client/record_queue.hpp"
#include "core/compress.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/secret.hpp"
#include "core/timestamp.hpp"
#include "producer/input/record_fields.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

thread_local bool tLibraryThread = false;

// Marks the current thread as the library's while it logs its own messages on an application's
// thread (close(), possibly from the exit handler).
class LibraryScope {
 public:
  LibraryScope() : previous_(tLibraryThread) { tLibraryThread = true; }
  ~LibraryScope() { tLibraryThread = previous_; }
  LibraryScope(const LibraryScope&) = delete;
  LibraryScope& operator=(const LibraryScope&) = delete;

 private:
  bool previous_;
};

constexpr auto kForever = std::chrono::hours(24 * 366);
constexpr size_t kMaxMessageBytes = 64 * 1024 * 1024;  // as log_producer --max-message-bytes

std::string defaultHost() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "-";
  return host;
}

std::string defaultService() {
  const char* name = program_invocation_short_name;
  return name != nullptr && *name != '\0' ? std::string(name) : std::string("-");
}

int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

[[noreturn]] void refuse(const std::string& what) { throw ClientError(what); }

}  // namespace

ClientError::ClientError(const std::string& what) : std::runtime_error(what) {}
ClientError::~ClientError() = default;

// Hidden: a nested class takes its enclosing class's (exported) visibility otherwise.
class __attribute__((visibility("hidden"))) Client::Impl {
 public:
  explicit Impl(ClientOptions options);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool log(const LogEntry& entry);
  bool flush(std::chrono::milliseconds timeout);
  // flush() without the check of the calling thread (close() marks its thread as the library's).
  bool waitSettled(std::chrono::milliseconds timeout);
  void close();
  ClientStats stats() const;

 private:
  struct Settled {
    uint64_t confirmed = 0;
    uint64_t failed = 0;
  };
  Settled settled() const;
  void work();
  bool connect();  // without a spool: makes shipper_; false when it failed (after a pause) or stops
  void handOn(std::vector<QueuedRecord>& batch, size_t& next);
  void retire(bool stopping);  // finishes shipper_ and moves its counts to the client's
  void finishAtStop(std::vector<QueuedRecord>& batch, size_t next);
  std::unique_ptr<Publisher> openPublisher(const std::atomic<bool>* abort);
  void sleepUnlessStopping(std::chrono::milliseconds howLong);

  ClientOptions options_;
  BrokerOptions broker_;
  Record template_;  // the service, host and fields of every record
  ShipperOptions shipOptions_;
  RecordQueue queue_;
  ConnectionStatus connection_;
  const pid_t pid_;

  mutable std::mutex shipperMu_;  // shipper_ (replaced by the worker) and the retired counts
  std::unique_ptr<Shipper> shipper_;
  uint64_t retiredConfirmed_ = 0;
  uint64_t retiredFailed_ = 0;
  std::atomic<uint64_t> lost_{0};       // accepted, never to be confirmed, not in a Shipper's failed count
  std::atomic<uint64_t> dropped_{0};    // refused by log() before the queue (too large, after close)
  std::atomic<uint64_t> remaining_{0};  // with a spool: left there at close
  uint64_t recovered_ = 0;              // with a spool: found there at construction

  std::atomic<bool> stopBroker_{false};  // BrokerOptions::stopRequested: abandon connecting
  std::atomic<bool> stop_{false};        // the worker finishes
  std::atomic<bool> flushedAtClose_{false};
  std::atomic<bool> workerDone_{false};
  std::mutex doneMu_;
  std::condition_variable doneCv_;
  std::unique_ptr<std::thread> worker_;

  std::mutex closeMu_;
  bool closed_ = false;
};

// ---- every open client, closed at exit ----------------------------------------------------------

namespace {

struct LiveClients {
  std::mutex mu;
  std::set<Client::Impl*> clients;
  bool hookInstalled = false;
};

// Never destroyed: a client may be destroyed (and unregister) in any static destructor.
LiveClients& liveClients() {
  static auto* live = new LiveClients;
  return *live;
}

extern "C" void closeClientsAtExit() {
  LiveClients& live = liveClients();
  std::lock_guard lock(live.mu);
  for (Client::Impl* client : live.clients) client->close();
}

void registerClient(Client::Impl* client) {
  // The default logger's registry exists already (createLoggingFirst): it is destroyed after the
  // exit handler registered here, and after any client constructed from here on.
  LiveClients& live = liveClients();
  std::lock_guard lock(live.mu);
  if (!live.hookInstalled) {
    std::atexit(closeClientsAtExit);
    live.hookInstalled = true;
  }
  live.clients.insert(client);
}

// Creates spdlog's default logger and its registry (a function-local static in libspdlog) on the
// constructing thread, before a client starts any thread: closing a client may still log, so the
// registry must outlive the exit handler; and the creation is ordered before the background
// threads' first log line by their start, which ThreadSanitizer sees (it does not see libspdlog's
// own check that the static is built: a sender thread's first warning looked like a race).
void createLoggingFirst() { spdlog::default_logger_raw(); }

void unregisterClient(Client::Impl* client) {
  LiveClients& live = liveClients();
  std::lock_guard lock(live.mu);
  live.clients.erase(client);
}

}  // namespace

// ---- construction -------------------------------------------------------------------------------

Client::Impl::Impl(ClientOptions options)
    : options_(std::move(options)),
      queue_(
          RecordQueue::Limits{options_.queueRecords, options_.queueBytes, options_.overflow == OverflowPolicy::Block}),
      pid_(getpid()) {
  if (options_.queueRecords == 0) refuse("ClientOptions::queueRecords: must be at least 1");
  if (options_.queueBytes == 0) refuse("ClientOptions::queueBytes: must be at least 1");
  if (options_.maxMessageBytes == 0 || options_.maxMessageBytes > kMaxMessageBytes) {
    refuse(fmt::format("ClientOptions::maxMessageBytes: must be between 1 and {}", kMaxMessageBytes));
  }
  if (options_.batchRecords == 0) refuse("ClientOptions::batchRecords: must be at least 1");
  if (options_.connectTimeout.count() <= 0) refuse("ClientOptions::connectTimeout: must be positive");
  if (options_.flushTimeout.count() < 0) refuse("ClientOptions::flushTimeout: must not be negative");
  if (options_.reconnectFor.count() < 0) refuse("ClientOptions::reconnectFor: must not be negative");
  if (options_.linger.count() < 0) refuse("ClientOptions::linger: must not be negative");

  // The broker: the same checks as the programs' --broker, --queue and TLS flags.
  BrokerSettings settings;
  settings.urls = options_.broker;
  if (settings.urls.empty()) {
    const char* env = std::getenv("LOGSHIP_BROKER");
    if (env != nullptr) settings.urls = env;
  }
  try {
    if (!options_.passwordFile.empty()) {
      settings.password = readPasswordFile(options_.passwordFile);
    } else if (!options_.passwordEnv.empty()) {
      const char* env = std::getenv(options_.passwordEnv.c_str());
      if (env != nullptr && *env != '\0') settings.password = env;
    }
  } catch (const Error& e) {
    refuse(fmt::format("ClientOptions::passwordFile: {}", e.what()));
  }
  if (const char* sentinel = std::getenv("LOGSHIP_SENTINEL_PASSWORD"); sentinel != nullptr && *sentinel != '\0') {
    settings.sentinelPassword = sentinel;
  }
  settings.queue = options_.queue;
  settings.shards = options_.shards;
  settings.tls = TlsOptions{options_.tlsCa, options_.tlsCert, options_.tlsKey};
  settings.requireTls = options_.requireTls;
  settings.queueType = options_.queueType;
  settings.streamMaxAge = options_.streamMaxAge;
  settings.streamMaxBytes = options_.streamMaxBytes;
  BrokerSettingNames names;
  names.broker = "ClientOptions::broker";
  names.queue = "ClientOptions::queue";
  names.tlsCa = "ClientOptions::tlsCa";
  names.tlsCert = "ClientOptions::tlsCert";
  names.tlsKey = "ClientOptions::tlsKey";
  names.requireTls = "ClientOptions::requireTls";
  names.shards = "ClientOptions::shards";
  names.queueType = "ClientOptions::queueType";
  names.streamMaxAge = "ClientOptions::streamMaxAge";
  names.streamMaxBytes = "ClientOptions::streamMaxBytes";
  try {
    broker_ = resolveBrokerSettings(settings, names);
    applyWaitReplicas(broker_, options_.waitReplicas, options_.waitTimeout, "ClientOptions::waitReplicas");
  } catch (const Error& e) {
    refuse(e.what());
  }
  broker_.clientName = options_.clientName;
  broker_.connectTimeout = options_.connectTimeout;
  broker_.retryFor = kForever;  // the background thread keeps connecting until close()
  broker_.reconnectFor = options_.reconnectFor;
  broker_.stopRequested = &stopBroker_;
  broker_.status = &connection_;

  // The metadata travels in the message's headers: bounded as log_producer bounds what its inputs
  // give (a header table over RabbitMQ's frame size would never be accepted).
  for (const auto& [what, name] : {std::pair{"service", &options_.service}, std::pair{"host", &options_.host}}) {
    if (name->size() > kMaxServiceHostBytes) {
      refuse(fmt::format("ClientOptions::{}: {} bytes, at most {}", what, name->size(), kMaxServiceHostBytes));
    }
  }
  template_.service = options_.service.empty() ? defaultService() : options_.service;
  template_.host = options_.host.empty() ? defaultHost() : options_.host;
  assignName(template_.service, std::string(template_.service));  // a very long program or host name is cut
  assignName(template_.host, std::string(template_.host));
  size_t fieldBytes = 0;
  for (const auto& [key, value] : options_.fields) {
    if (const std::string_view problem = fieldKeyProblem(key); !problem.empty()) {
      refuse(fmt::format("ClientOptions::fields: key '{}': {}", escaped(key), problem));
    }
    fieldBytes += key.size() + value.size();
    template_.fields.push_back(Field{key, value});
  }
  if (fieldBytes > kMaxFieldBytes) {
    refuse(fmt::format("ClientOptions::fields: {} bytes of keys and values, at most {}", fieldBytes, kMaxFieldBytes));
  }

  shipOptions_.maxMessageBytes = options_.maxMessageBytes;
  shipOptions_.batchRecords = options_.batchRecords;
  shipOptions_.linger = options_.linger;
  if (auto c = parseCompression(options_.compress)) {
    shipOptions_.zstdLevel = c->zstdLevel;
  } else {
    refuse(fmt::format("ClientOptions::compress: '{}' is not a compression: give {}", escaped(options_.compress),
                       kCompressionSyntax));
  }
  shipOptions_.spoolDir = options_.spoolDir;
  shipOptions_.stopGrace = std::chrono::milliseconds(500);  // close() has waited flushTimeout already
  shipOptions_.spoolGiveUpAfter = options_.flushTimeout;
  shipOptions_.onSenderThread = [] { tLibraryThread = true; };
  createLoggingFirst();  // before any thread
  if (!options_.spoolDir.empty()) {
    if (options_.spoolMaxBytes < std::max<uint64_t>(1024 * 1024, 4 * options_.maxMessageBytes)) {
      refuse("ClientOptions::spoolMaxBytes: must be at least 1 MiB and 4 times maxMessageBytes");
    }
    shipOptions_.spoolLimits.maxBytes = options_.spoolMaxBytes;
    try {
      // The spool's directory and lock are checked now; it connects in the background.
      shipper_ = std::make_unique<Shipper>([this](const std::atomic<bool>* abort) { return openPublisher(abort); },
                                           template_, shipOptions_);
    } catch (const Error& e) {
      refuse(fmt::format("ClientOptions::spoolDir: {}", e.what()));
    }
    recovered_ = shipper_->report().recovered;
  }

  worker_ = std::make_unique<std::thread>([this] { work(); });
  registerClient(this);
}

Client::Impl::~Impl() {
  unregisterClient(this);
  close();
}

std::unique_ptr<Publisher> Client::Impl::openPublisher(const std::atomic<bool>* abort) {
  tLibraryThread = true;  // with a spool, the Shipper's sender thread connects
  BrokerOptions b = broker_;
  if (abort != nullptr) b.stopRequested = abort;  // the spool's background connection, until aborted
  return makePublisher(b, options_.queue, PublishRoute::Live);
}

// ---- the caller's side --------------------------------------------------------------------------

bool Client::Impl::log(const LogEntry& entry) {
  if (tLibraryThread) return false;  // the library's own messages (see the top of this file)
  if (entry.message.size() > options_.maxMessageBytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  QueuedRecord r;
  r.timestampUs = entry.time.time_since_epoch().count() == 0 ? nowMicros() : micros(entry.time);
  r.level = entry.level;
  r.service.assign(entry.service);
  r.message.assign(entry.message);
  r.bytes = r.message.size() + r.service.size();
  if (!entry.fields.empty()) {
    r.fields.reserve(entry.fields.size());
    for (const FieldView& f : entry.fields) {
      r.fields.push_back(Field{std::string(f.key), std::string(f.value)});  // checked when handed on
      r.bytes += r.fields.back().key.size() + r.fields.back().value.size();
    }
  }
  return queue_.push(std::move(r)) == RecordQueue::Pushed::Queued;
}

Client::Impl::Settled Client::Impl::settled() const {
  std::lock_guard lock(shipperMu_);
  Settled s{retiredConfirmed_, retiredFailed_ + lost_.load()};
  if (shipper_) {
    s.confirmed += shipper_->metrics().confirmed.value();
    s.failed += shipper_->metrics().failed.value();
  }
  return s;
}

bool Client::Impl::flush(std::chrono::milliseconds timeout) {
  if (tLibraryThread) return false;  // a sink's flush from the library's own thread: it would wait for itself
  return waitSettled(timeout);
}

bool Client::Impl::waitSettled(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const uint64_t target = queue_.accepted() + recovered_;
  const uint64_t failedBefore = settled().failed;
  auto nap = std::chrono::milliseconds(1);
  for (;;) {
    const Settled s = settled();
    if (s.confirmed + s.failed >= target) return s.failed == failedBefore;
    const auto now = Clock::now();
    if (now >= deadline || workerDone_.load()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(nap, deadline - now));
    nap = std::min(nap * 2, std::chrono::milliseconds(20));
  }
}

ClientStats Client::Impl::stats() const {
  ClientStats st;
  st.accepted = queue_.accepted();
  st.dropped = queue_.refused() + dropped_.load();
  const Settled s = settled();
  st.confirmed = s.confirmed;
  st.failed = s.failed;
  st.recovered = recovered_;
  const uint64_t in = st.accepted + st.recovered;
  st.pending = in > s.confirmed + s.failed ? in - s.confirmed - s.failed : 0;
  st.connected = connection_.connected();
  st.lastError = connection_.lastError();
  return st;
}

// ---- the background thread ----------------------------------------------------------------------

void Client::Impl::sleepUnlessStopping(std::chrono::milliseconds howLong) {
  const auto until = Clock::now() + howLong;
  while (!stop_.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool Client::Impl::connect() {
  static constexpr auto kRefusedPause = std::chrono::seconds(10);
  try {
    // Blocks until connected: the Reconnector retries until stopBroker_ is set (by close()).
    auto shipper = std::make_unique<Shipper>([this](const std::atomic<bool>* abort) { return openPublisher(abort); },
                                             template_, shipOptions_);
    std::lock_guard lock(shipperMu_);
    shipper_ = std::move(shipper);
    return true;
  } catch (const InterruptedError&) {
    return false;  // closing
  } catch (const std::exception& e) {
    // A refusal (credentials, permissions, TLS) is not retried by the Reconnector: try again after
    // a pause, so that a broker fixed meanwhile is used. Records wait in the queue.
    spdlog::error("logship client: {}; trying again in {} s ({} record(s) wait in the queue)", e.what(),
                  kRefusedPause.count(), queue_.heldRecords());
    sleepUnlessStopping(kRefusedPause);
    return false;
  }
}

void Client::Impl::handOn(std::vector<QueuedRecord>& batch, size_t& next) {
  Record record;
  size_t records = 0;
  size_t bytes = 0;
  while (next < batch.size() && !shipper_->failed()) {
    QueuedRecord& q = batch[next];
    record.timestampUs = q.timestampUs;
    record.level = q.level;
    if (q.service.empty()) {
      record.service = template_.service;
    } else {
      assignName(record.service, q.service);  // cut to 255 bytes
    }
    record.host = template_.host;
    record.message = std::move(q.message);
    // The client's fields, then the record's own (a key of the client's gets the record's value;
    // keys cleaned as log_producer's inputs' are; past 64 KiB of fields the rest are counted in
    // fields_dropped), so that the headers always fit a broker message.
    FieldBuilder fields(record, template_);
    for (const Field& f : q.fields) fields.add(f.key, f.value);
    fields.finish();
    try {
      shipper_->ship(record);
    } catch (const std::exception& e) {  // the spool on disk could not be written
      lost_.fetch_add(1);
      spdlog::error("logship client: a record is lost: {}", e.what());
    }
    ++next;
    ++records;
    bytes += q.bytes;
    if (records == 256) {
      queue_.release(records, bytes);
      records = bytes = 0;
    }
  }
  queue_.release(records, bytes);
}

void Client::Impl::retire(bool stopping) {
  Shipper& s = *shipper_;
  std::string error;
  try {
    s.finish(stopping);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const ShipReport r = s.report();
  const uint64_t in = r.sent + r.recovered;
  const uint64_t out = r.confirmed + r.failed + r.remaining;
  const uint64_t lost = in > out ? in - out : 0;
  {
    std::lock_guard lock(shipperMu_);
    retiredConfirmed_ += r.confirmed;
    retiredFailed_ += r.failed;
    lost_.fetch_add(lost);
    remaining_ = r.remaining;
    shipper_.reset();
  }
  if (!error.empty() && !stopping) {
    spdlog::error("logship client: {}; connecting again", error);
  }
}

void Client::Impl::work() {
  tLibraryThread = true;
  std::vector<QueuedRecord> batch;
  size_t next = 0;  // batch[next...] are still to be handed on
  for (;;) {
    if (!shipper_) {
      if (stop_.load()) break;
      if (!connect()) continue;
    }
    if (next == batch.size()) {
      batch.clear();
      next = 0;
      const auto wait = std::min(shipper_->wakeIn(), std::chrono::milliseconds(200));
      queue_.takeAll(batch, stop_.load() ? std::chrono::milliseconds(0) : wait);
    }
    handOn(batch, next);
    if (shipper_->failed()) {  // without a spool: the connection stayed broken past reconnectFor
      retire(false);
      continue;
    }
    shipper_->flushDue();
    if (stop_.load() && next == batch.size() && queue_.queued() == 0) break;
  }
  finishAtStop(batch, next);
  {
    std::lock_guard lock(doneMu_);
    workerDone_ = true;
  }
  doneCv_.notify_all();
}

void Client::Impl::finishAtStop(std::vector<QueuedRecord>& batch, size_t next) {
  if (shipper_) {
    if (!options_.spoolDir.empty()) {
      // Whatever is still here goes into the spool, for the next run.
      for (;;) {
        handOn(batch, next);
        if (next < batch.size()) break;  // the Shipper failed: the rest is lost (counted below)
        batch.clear();
        next = 0;
        if (queue_.takeAll(batch, std::chrono::milliseconds(0)) == 0) break;
      }
      retire(true);
    } else if (flushedAtClose_.load() && next == batch.size() && queue_.queued() == 0) {
      retire(false);  // everything is confirmed: the sender ends at once
    } else {
      shipper_->abort();  // the flush timed out: what is not confirmed now is given up
      retire(true);
    }
  }
  // Never handed on (no connection without a spool, or given up at close).
  const uint64_t left = (batch.size() - next) + queue_.queued();
  lost_.fetch_add(left);
  queue_.release(queue_.heldRecords(), queue_.heldBytes());
}

// ---- closing ------------------------------------------------------------------------------------

void Client::Impl::close() {
  std::lock_guard closeLock(closeMu_);
  if (closed_) return;
  closed_ = true;
  if (getpid() != pid_) {
    // A child after fork(): the background threads are not in this process. Nothing can be sent
    // from here; leave the parent's objects alone.
    (void)worker_.release();
    std::lock_guard lock(shipperMu_);
    (void)shipper_.release();
    return;
  }
  LibraryScope scope;
  queue_.close();
  const bool flushed = waitSettled(options_.flushTimeout);
  flushedAtClose_ = flushed;
  stopBroker_ = true;  // a connection attempt (without a spool) or a reconnection is abandoned
  stop_ = true;
  queue_.wake();
  {
    // The worker now hands what is left on (to the spool, if any) and stops its Shipper. If it is
    // stuck (a full spool while the broker is away), what it holds is given up.
    std::unique_lock lock(doneMu_);
    if (!doneCv_.wait_for(lock, std::chrono::seconds(2), [&] { return workerDone_.load(); })) {
      stopBroker_ = true;
      std::lock_guard shipperLock(shipperMu_);
      if (shipper_) shipper_->abort();
    }
  }
  worker_->join();

  const ClientStats st = stats();
  if (st.failed > 0) {
    spdlog::error("logship client: closed with {} of {} record(s) not delivered{}", st.failed,
                  st.accepted + st.recovered,
                  st.lastError.empty() ? std::string() : fmt::format(" (last error: {})", st.lastError));
  }
  if (remaining_.load() > 0) {
    spdlog::warn(
        "logship client: closed with {} record(s) not confirmed yet; they stay in the spool {} for the next run",
        remaining_.load(), escaped(options_.spoolDir));
  }
}

// ---- Client -------------------------------------------------------------------------------------

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

bool Client::log(Level level, std::string_view message) {
  LogEntry e;
  e.level = level;
  e.message = message;
  return log(e);
}

bool Client::log(Level level, std::string_view message, std::initializer_list<FieldView> fields) {
  LogEntry e;
  e.level = level;
  e.message = message;
  e.fields = std::span<const FieldView>(fields.begin(), fields.size());
  return log(e);
}

bool Client::log(const LogEntry& entry) { return impl_ ? impl_->log(entry) : false; }

bool Client::flush(std::chrono::milliseconds timeout) { return impl_ ? impl_->flush(timeout) : true; }

void Client::close() {
  if (impl_) impl_->close();
}

ClientStats Client::stats() const { return impl_ ? impl_->stats() : ClientStats{}; }

}  // namespace logship
