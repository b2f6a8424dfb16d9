#include "producer/shipper.hpp"

#include <random>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"

namespace logship {
namespace {

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

Shipper::Shipper(PublisherConnect connect, Record recordTemplate, ShipperOptions options)
    : connect_(std::move(connect)),
      options_(std::move(options)),
      record_(std::move(recordTemplate)),
      nextId_(options_.firstId) {
  batch_.setCompression(options_.zstdLevel);
  if (options_.idPrefix.empty()) {
    std::random_device rd;
    options_.idPrefix = fmt::format("{:08x}{:08x}", rd(), rd());
  }
  spool_ = openSpool(options_.spoolDir, options_.spoolLimits, options_.spoolQueue);
  metrics_.recovered.inc(spool_->recovered());
  // Without a durable spool the sender never reconnects: an unreachable broker is an error before
  // any input is read.
  if (!spool_->durable()) publisher_ = connect_(nullptr);
  lastProgressNs_ = nowNs();
  thread_ = std::thread([this] { run(); });
}

Shipper::~Shipper() {
  if (thread_.joinable()) {
    abort();
    spool_->closeInput();
    thread_.join();
  }
}

void Shipper::abort() {
  stopping_ = true;
  abort_ = true;
  spool_->shutdown();
}

bool Shipper::ship(std::string_view message) { return add(nullptr, message, nowMicros()); }

bool Shipper::ship(const Record& record) {
  return add(&record, record.message, record.timestampUs != 0 ? record.timestampUs : nowMicros());
}

namespace {

bool sameMetadata(const Record& a, const Record& b) {
  return a.level == b.level && a.service == b.service && a.host == b.host && a.fields == b.fields;
}

}  // namespace

bool Shipper::add(const Record* meta, std::string_view message, int64_t ts) {
  ++unflushedRead_;
  const bool given = std::exchange(idGiven_, false);
  const std::string_view idPrefix = given ? givenPrefix_ : std::string_view(options_.idPrefix);
  const uint64_t idN = given ? givenN_ : nextId_;
  if (message.size() > options_.maxMessageBytes) {
    metrics_.read.inc(std::exchange(unflushedRead_, 0));
    metrics_.refused.inc();
    ++inputSeq_;
    return false;
  }
  const bool alone = options_.batchRecords <= 1 || message.find('\n') != std::string_view::npos;
  if (batch_.records() > 0 &&
      (alone || batch_.bodyBytes() + 1 + message.size() > options_.batchBytes || ts < batch_.lastTimestampUs() ||
       idN != batchNextN_ || idPrefix != batchIdPrefix_ ||
       (meta == nullptr ? !batchFromTemplate_ : batchFromTemplate_ || !sameMetadata(batch_.first(), *meta)))) {
    flushBatch();
  }
  if (batch_.records() == 0) {
    Record& first = meta == nullptr ? record_ : scratch_;
    if (meta != nullptr) {
      scratch_.level = meta->level;
      scratch_.service = meta->service;
      scratch_.host = meta->host;
      scratch_.fields = meta->fields;
    }
    first.timestampUs = ts;
    first.message.assign(message);
    first.id = fmt::format("{}-{}", idPrefix, idN);
    batchIdPrefix_.assign(idPrefix);
    batch_.start(first);
    batchFromTemplate_ = meta == nullptr;
    batchInputStart_ = inputSeq_;
    batchStarted_ = Clock::now();
  } else {
    batch_.add(message, ts);
  }
  batchNextN_ = idN + 1;
  if (!given) ++nextId_;
  ++inputSeq_;
  if (alone || batch_.records() >= options_.batchRecords || Clock::now() - batchStarted_ >= options_.linger) {
    return flushBatch();
  }
  return true;
}

void Shipper::dropSettledMarks() {
  if (settledFrozen_) return;
  // Stored is safe in a durable spool; else confirmed is, in input order up to the first refusal.
  // Read before the count: once the order is broken the count is final.
  const bool durable = spool_->durable();
  const bool broken = !durable && inputOrderBroken_.load();
  const uint64_t safe = durable ? storedByRun_ : confirmedInOrder_.load();
  while (!marks_.empty() && marks_.front().storedEnd <= safe) {
    settled_ = marks_.front().inputEnd;
    marks_.pop_front();
  }
  if (broken) {  // nothing after the refused record will ever be settled
    settledFrozen_ = true;
    marks_.clear();
  }
}

uint64_t Shipper::settledInput() {
  dropSettledMarks();
  if (marks_.empty() && !settledFrozen_) settled_ = batch_.records() > 0 ? batchInputStart_ : inputSeq_;
  return settled_;
}

void Shipper::flushDue() {
  if (batch_.records() > 0 && Clock::now() - batchStarted_ >= options_.linger) flushBatch();
}

std::chrono::milliseconds Shipper::wakeIn() const {
  if (batch_.records() == 0) return std::chrono::milliseconds(1000);
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(batchStarted_ + options_.linger - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

bool Shipper::flushBatch() {
  if (unflushedRead_ > 0) metrics_.read.inc(std::exchange(unflushedRead_, 0));
  const size_t n = batch_.records();
  if (n == 0) return true;
  batch_.finish(message_);
  return store(n);
}

bool Shipper::store(size_t records) {
  // Every input stores, not every input asks for its checkpoint: drop what settled meanwhile here,
  // so that the marks stay bounded by what is in the spool and in flight.
  dropSettledMarks();
  switch (spool_->append(message_, records)) {
    case Spool::Appended::Stored:
      metrics_.accepted.inc(records);
      storedByRun_ += records;
      if (!settledFrozen_) marks_.push_back({storedByRun_, inputSeq_});
      return true;
    case Spool::Appended::Dropped: {
      if (!settledFrozen_) marks_.push_back({storedByRun_, inputSeq_});
      metrics_.dropped.inc(records);
      const uint64_t dropped = metrics_.dropped.value();
      if (dropped == records || Clock::now() - lastDropWarning_ >= std::chrono::seconds(10)) {
        spdlog::warn("the spool is full (--spool-max-bytes {}): records are dropped (--spool-full drop); {} so far",
                     options_.spoolLimits.maxBytes, dropped);
        lastDropWarning_ = Clock::now();
      }
      return false;
    }
    case Spool::Appended::Closed:  // the sender failed: counted as not delivered, never settled
      metrics_.accepted.inc(records);
      if (!settledFrozen_) marks_.push_back({UINT64_MAX, inputSeq_});
      return false;
  }
  return false;
}

void Shipper::finish(bool stopping) {
  flushBatch();
  spool_->closeInput();
  inputClosedAt_ = nowNs();
  // A durable spool keeps what is not confirmed: a stop waits only options.stopGrace for confirms.
  const bool durable = spool_->durable();
  if (stopping && durable) {
    stopping_ = true;
    abort_ = true;
  }
  while (!senderDone_.load()) {
    if (giveUpNow()) abort_ = true;  // stops only the background connection of a durable spool
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  thread_.join();
  if (durable) remaining_ = spool_->heldRecords();
  if (senderError_ != nullptr) {
    const ShipReport r = report();
    const uint64_t total = r.sent + r.recovered;
    const uint64_t missing = total - std::min(total, r.confirmed);
    const std::string counts =
        durable ? fmt::format("{} record(s) remain in the spool {}", remaining_.load(), escaped(spool_->location()))
                : fmt::format("{} of {} records not delivered", missing, total);
    try {
      std::rethrow_exception(senderError_);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      throw Error(fmt::format("{} ({})", e.what(), counts));
    }
  }
}

ShipReport Shipper::report() const {
  ShipReport r;
  r.sent = metrics_.accepted.value();
  r.confirmed = metrics_.confirmed.value();
  r.failed = metrics_.failed.value();
  r.refused = metrics_.refused.value();
  r.dropped = metrics_.dropped.value();
  r.recovered = metrics_.recovered.value();
  r.remaining = remaining_.load();
  std::lock_guard lock(failureMu_);
  r.firstFailure = firstFailure_;
  return r;
}

bool Shipper::giveUpNow() const {
  const int64_t closedAt = inputClosedAt_.load();
  if (closedAt == 0) return false;
  const int64_t since = std::max(closedAt, lastProgressNs_.load());
  return nowNs() - since > std::chrono::duration_cast<std::chrono::nanoseconds>(options_.spoolGiveUpAfter).count();
}

// ---- the sender thread ------------------------------------------------------------------------

void Shipper::run() {
  if (options_.onSenderThread) options_.onSenderThread();
  try {
    for (;;) {
      if (!publisher_ && !connectPublisher()) break;
      try {
        if (pump()) break;
      } catch (const InterruptedError&) {
        if (!spool_->durable()) throw;
        break;  // given up or stopped: the records stay in the spool
      } catch (const ConnectionError& e) {
        if (!spool_->durable()) throw;
        spdlog::warn("{}; the {} record(s) not confirmed stay in the spool and are sent on the next connection",
                     e.what(), inFlight_.size());
        publisher_.reset();
        inFlight_.clear();
        inFlightBytes_ = 0;
        metrics_.inFlightMessages.set(0);
        metrics_.inFlightBytes.set(0);
        spool_->rewind();
      }
    }
  } catch (...) {
    senderError_ = std::current_exception();
  }
  spool_->shutdown();
  senderDone_ = true;
}

bool Shipper::connectPublisher() {
  if (!spool_->durable()) return false;  // the first connection was made up front, and is the only one
  while (!abort_.load()) {
    try {
      publisher_ = connect_(&abort_);
      inFlight_.clear();
      inFlightBytes_ = 0;
      metrics_.inFlightMessages.set(0);
      metrics_.inFlightBytes.set(0);
      lastProgressNs_ = nowNs();
      return true;
    } catch (const InterruptedError&) {
      return false;
    } catch (const ConnectionError& e) {
      spdlog::warn("{}; {} record(s) wait in the spool {}", e.what(), spool_->heldRecords(),
                   escaped(spool_->location()));
    }
  }
  return false;
}

bool Shipper::pump() {
  const size_t window = options_.confirmWindow;
  Clock::time_point waitingSince = Clock::now();
  for (;;) {
    if (stopping_.load()) {
      // A stop signal with a spool: collect the confirms still due for a moment, keep the rest.
      if (publisher_->unconfirmed() > 0) {
        publisher_->awaitConfirms(0, Clock::now() + options_.stopGrace, confirms_);
        settle(confirms_);
      }
      return true;
    }
    size_t unconfirmed = publisher_->unconfirmed();
    taken_.clear();
    if (unconfirmed < window && inFlightBytes_ < options_.maxInFlightBytes) {
      spool_->take(taken_, std::min<size_t>(window - unconfirmed, 256),
                   unconfirmed > 0 ? std::chrono::milliseconds(0) : std::chrono::milliseconds(100),
                   options_.maxInFlightBytes - inFlightBytes_);
    }
    if (unconfirmed == 0) waitingSince = Clock::now();
    uint64_t publishedRecords = 0;
    uint64_t publishedBytes = 0;
    for (auto& taken : taken_) {
      auto m = std::make_shared<const Message>(std::move(taken));
      const uint64_t seq = publisher_->publishShared(m);
      if (inFlight_.empty()) inFlightBase_ = seq;
      const size_t bytes = m->body.size();
      const uint64_t records = recordCount(*m);
      inFlightBytes_ += bytes;
      publishedRecords += records;
      publishedBytes += bytes;
      batchSizes_.observe(static_cast<double>(records));
      inFlight_.push_back(InFlight{std::move(m), bytes, records, InFlight::State::Waiting, {}});
    }
    if (!taken_.empty()) {
      metrics_.published.inc(publishedRecords);
      metrics_.bytesPublished.inc(publishedBytes);
      metrics_.batchRecords.merge(batchSizes_);
      metrics_.inFlightMessages.set(static_cast<double>(inFlight_.size()));
      metrics_.inFlightBytes.set(static_cast<double>(inFlightBytes_));
    }
    unconfirmed = publisher_->unconfirmed();
    const auto now = Clock::now();
    if (unconfirmed >= window || (unconfirmed > 0 && inFlightBytes_ >= options_.maxInFlightBytes)) {
      publisher_->awaitConfirms(unconfirmed / 2, now + options_.confirmTimeout, confirms_);
    } else if (taken_.empty() && unconfirmed > 0) {
      publisher_->awaitConfirms(0, now + std::chrono::milliseconds(20), confirms_);
    } else {
      publisher_->awaitConfirms(SIZE_MAX, now, confirms_);  // services the connection, takes what is there
    }
    if (!confirms_.empty()) waitingSince = Clock::now();
    settle(confirms_);
    if (publisher_->unconfirmed() > 0 && Clock::now() - waitingSince > options_.confirmTimeout) {
      throw TimeoutError("the broker stopped confirming messages (is it blocked by a memory or disk alarm?)");
    }
    if (spool_->inputClosed() && spool_->untaken() == 0 && publisher_->unconfirmed() == 0 && inFlight_.empty()) {
      return true;
    }
  }
}

void Shipper::settle(std::vector<ConfirmRange>& confirms) {
  if (confirms.empty()) return;
  lastProgressNs_ = nowNs();
  // Counted in the report only after confirmedInOrder_ says what they settled: a caller that sees
  // them confirmed may rely on their input marks being droppable.
  uint64_t confirmedRecords = 0;
  uint64_t failedRecords = 0;
  for (const auto& c : confirms) {
    uint64_t records = 0;
    for (uint64_t s = std::max(c.first, inFlightBase_); s <= c.last && s - inFlightBase_ < inFlight_.size(); ++s) {
      InFlight& f = inFlight_[s - inFlightBase_];
      if (f.state != InFlight::State::Waiting) continue;
      f.state = c.ok ? InFlight::State::Confirmed : InFlight::State::Failed;
      if (!c.ok) f.reason = c.reason;
      records += f.records;
    }
    if (c.ok) {
      confirmedRecords += records;
    } else {
      failedRecords += records;
      {
        std::lock_guard lock(failureMu_);
        if (firstFailure_.empty()) firstFailure_ = c.reason;
      }
      refusedLines_.log(RepeatedLines::Level::Error, fmt::format("{} record(s) not accepted by the broker: {}{}",
                                                                 records, c.reason, spool_->refusedNote()));
    }
  }
  refusedLines_.flush();
  confirms.clear();
  size_t done = 0;
  uint64_t doneRecords = 0;
  uint64_t confirmedInOrder = 0;
  while (!inFlight_.empty() && inFlight_.front().state != InFlight::State::Waiting) {
    InFlight& f = inFlight_.front();
    if (f.state == InFlight::State::Failed) spool_->keepRefused(*f.message, f.reason);
    orderBroken_ = orderBroken_ || f.state == InFlight::State::Failed;
    if (!orderBroken_) confirmedInOrder += f.records;
    inFlightBytes_ -= f.bytes;
    doneRecords += f.records;
    inFlight_.pop_front();
    ++inFlightBase_;
    ++done;
  }
  spool_->release(done, doneRecords);
  if (confirmedInOrder > 0) confirmedInOrder_.fetch_add(confirmedInOrder);
  if (orderBroken_) inputOrderBroken_ = true;  // after the count: the input thread reads them the other way round
  if (confirmedRecords > 0) metrics_.confirmed.inc(confirmedRecords);
  if (failedRecords > 0) metrics_.failed.inc(failedRecords);
  metrics_.inFlightMessages.set(static_cast<double>(inFlight_.size()));
  metrics_.inFlightBytes.set(static_cast<double>(inFlightBytes_));
}

}  // namespace logship
