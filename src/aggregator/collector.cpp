#include "aggregator/collector.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"

namespace logship {
namespace {

using std::chrono::milliseconds;

std::string seconds(Clock::duration d) { return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count()); }

std::string tooLargeReason(const Delivery& d, size_t limit) {
  if (d.droppedBodySize == 0) return logship::tooLargeReason(d.body.size(), limit, OversizeBody::Read);
  return logship::tooLargeReason(d.droppedBodySize, limit,
                                 d.movedToDeadLetters ? OversizeBody::KeptInRedis : OversizeBody::SkippedUnread);
}

// While the output fails, a reminder at most this often (the first error and a new reason are
// logged at once).
constexpr milliseconds kWriteErrorReminder{60'000};

}  // namespace

Collector::Collector(Consumer& consumer, Router& router, PublisherFactory publishers, std::string queue,
                     CollectorOptions options, const std::atomic<bool>& stop)
    : consumer_(consumer),
      router_(router),
      makePublisher_(std::move(publishers)),
      queue_(std::move(queue)),
      options_(options),
      stop_(stop),
      flushed_(router.size(), 0),
      pendingLines_(router.size(), 0),
      done_(router.size(), 0),
      formatter_(options.format) {}

void Collector::run() {
  auto lastDelivery = Clock::now();
  size_t want = std::min<size_t>(64, options_.maxBatch);  // adapts: small deliveries up to maxBatch, batches fewer
  while (!stop_.load(std::memory_order_relaxed)) {
    batch_.clear();
    if (consumer_.receive(batch_, want, options_.pollInterval) == 0) {
      router_.maintain();
      if (options_.idleExit.count() > 0 && Clock::now() - lastDelivery >= options_.idleExit) {
        spdlog::info("no delivery for {} ms: exiting (--idle-exit)", options_.idleExit.count());
        break;
      }
      continue;
    }
    lastDelivery = Clock::now();
    const size_t received = batch_.size();
    // Usually one part; a delivery that failed before is taken and committed on its own
    // (aggregator/redelivery.hpp).
    takeNext_ = 0;
    takenTextBytes_ = 0;
    while (takeNext_ < batch_.size()) {
      takeNext_ = take(takeNext_);
      try {
        commit();
      } catch (const SinkError& e) {
        takeAll();  // the rest of the batch is held with it
        holdUntilWritten(e);
        lastDelivery = Clock::now();
      }
    }
    // Bound the text taken at once (the lines formatted before a write take as much memory): big
    // deliveries (batches) are taken fewer at a time. Counted inflated: a compressed batch's wire
    // size says nothing of its lines (counting it took 5 times as many, 56 MB of lines at once).
    want = std::clamp<size_t>(options_.maxBatchBytes / (takenTextBytes_ / received + 1), 1, options_.maxBatch);
  }
  // Stopping: everything written has been acked; what the broker pushed ahead and we did not
  // take goes back to the queue, uncounted.
  handBack({});
}

void Collector::keepHeld() {
  std::move(batch_.begin(), batch_.end(), std::back_inserter(kept_));
  batch_.clear();
}

std::vector<Delivery> Collector::unackedKept() {
  std::vector<Delivery> out;
  size_t h = 0;
  size_t f = 0;
  for (Delivery& d : kept_) {
    while (h < held_.size() && held_[h].tag < d.tag) ++h;
    while (f < forwards_.size() && forwards_[f].delivery.tag < d.tag) ++f;
    const bool held = h < held_.size() && held_[h].tag == d.tag;
    const bool forward = f < forwards_.size() && forwards_[f].delivery.tag == d.tag;
    if (held && !forward) out.push_back(std::move(d));
  }
  kept_.clear();
  return out;
}

size_t Collector::handBack(std::vector<Delivery> held) {
  sendForwards(forwards_.size());  // dead letters and recounts go where they were going
  if (!consumer_.stopForHandBack(held) || held.empty()) return 0;
  // A body skipped unread cannot be copied back: it is dead-lettered as it would have been.
  for (Delivery& d : held) {
    if (d.droppedBodySize == 0) continue;
    std::string reason = tooLargeReason(d, options_.maxMessageBytes);
    forwards_.push_back({std::move(d), Forward::Kind::TooLarge, std::move(reason)});
  }
  std::erase_if(held, [this](const Delivery& d) {
    return std::any_of(forwards_.begin(), forwards_.end(), [&](const Forward& f) { return f.delivery.tag == d.tag; });
  });
  sendForwards(forwards_.size());
  if (options_.maxDeliveries == 0) return 0;  // no counting: let the broker redeliver them
  if (!requeue_) requeue_ = makePublisher_(queue_, PublishRoute::Direct);
  Message m;
  uint64_t last = 0;
  for (const Delivery& d : held) {
    m.body = d.body;
    m.headers = d.headers;
    m.timestampUs = d.brokerTimestampUs;
    // A failure the broker reported and the message does not record yet is recorded now: it is true.
    if (const uint32_t failures = historyOf(d).failures(); failures > 0) setRecordedDeliveries(m.headers, failures);
    requeue_->publish(m);
    last = std::max(last, d.tag);
  }
  confirms_.clear();
  requeue_->awaitConfirms(0, Clock::now() + options_.deadLetterTimeout, confirms_);
  for (const auto& c : confirms_) {
    if (!c.ok) throw Error(fmt::format("could not give a message back: {}", c.reason));
  }
  if (requeue_->unconfirmed() > 0) throw Error("could not give a message back: no confirm from the broker");
  consumer_.ackUpTo(last);
  spdlog::info("gave {} message(s) back to '{}' as they were (no failed delivery counted)", held.size(),
               escaped(queue_));
  return held.size();
}

void Collector::takeAll() {
  while (takeNext_ < batch_.size()) takeNext_ = take(takeNext_);
}

void Collector::hold(const Delivery& d, uint32_t lines, bool alone, uint32_t records) {
  held_.push_back({d.tag, lines, alone, records, d.streamOffset});
  for (size_t i = 0; i < router_.size(); ++i) heldEnds_.push_back(flushed_[i] + router_.sink(i).pendingBytes());
}

bool Collector::hasRecord(size_t output, const RecordIdRef& id) const {
  const IdJournal* journal = router_.sink(output).journal();
  return journal != nullptr && journal->contains(id);
}

bool Collector::writtenToAll(Router::OutputSet targets, const RecordIdRef& id) const {
  const auto outputs = Router::outputsIn(targets);
  return std::all_of(outputs.begin(), outputs.end(), [&](size_t o) { return hasRecord(o, id); });
}

bool Collector::writtenToAny(Router::OutputSet targets, const RecordIdRef& id) const {
  const auto outputs = Router::outputsIn(targets);
  return std::any_of(outputs.begin(), outputs.end(), [&](size_t o) { return hasRecord(o, id); });
}

bool Collector::anyWrittenToAny(Router::OutputSet targets, const RecordIdRef& first, uint64_t count) const {
  const auto outputs = Router::outputsIn(targets);
  return std::any_of(outputs.begin(), outputs.end(), [&](size_t o) {
    const IdJournal* journal = router_.sink(o).journal();
    return journal != nullptr && journal->containsAny(first, count);
  });
}

size_t Collector::take(size_t from) {
  const int64_t now = nowMicros();
  // A stream never redelivers: no delivery of it is judged by its history (its place is ours).
  const uint32_t maxDeliveries = batch_[from].streamOffset >= 0 ? 0 : options_.maxDeliveries;
  const size_t end = segmentEnd(batch_, from, maxDeliveries);
  TakeCounts counts;
  for (size_t i = from; i < end; ++i) takeOne(batch_[i], now, maxDeliveries, counts);
  metrics_.messagesReceived.inc(end - from);
  metrics_.recordsReceived.inc(counts.records);
  metrics_.bytesReceived.inc(counts.bytes);
  takenTextBytes_ += counts.textBytes;
  if (counts.redelivered > 0) metrics_.messagesRedelivered.inc(counts.redelivered);
  if (counts.duplicates > 0) metrics_.duplicates.inc(counts.duplicates);
  metrics_.batchRecords.merge(batchSizes_);
  return end;
}

void Collector::takeOne(Delivery& d, int64_t now, uint32_t maxDeliveries, TakeCounts& counts) {
  counts.bytes += d.body.size();
  if (d.redelivered) ++counts.redelivered;
  if (!classify(d, now)) {
    ++counts.records;
    return;
  }
  const auto n = static_cast<uint32_t>(decoded_.size());
  counts.records += n;
  counts.textBytes += decoded_.textBytes();
  batchSizes_.observe(n);
  // The outputs this message's records go to: its records share level, service and host.
  const Router::OutputSet targets = router_.select(decoded_.metadata());
  const AlreadyWritten written = alreadyWritten(targets);
  if (written.fresh == 0) {
    counts.duplicates += n;  // written before: whatever its history, it is done
    hold(d, 0, false, n);
    return;
  }
  const DeliveryHistory history = historyOf(d);
  if (judgePoison(d, history, maxDeliveries)) return;
  // A record without a timestamp of its own got `now` (no broker timestamp either): no latency.
  const uint32_t lines = format(targets, written, d.brokerTimestampUs == 0 ? now : 0, counts.duplicates);
  hold(d, lines, writtenAlone(history, maxDeliveries), n);
}

bool Collector::classify(Delivery& d, int64_t now) {
  std::string reason;
  auto kind = Forward::Kind::Malformed;
  if (d.droppedBodySize > 0 || d.body.size() > options_.maxMessageBytes) {
    reason = tooLargeReason(d, options_.maxMessageBytes);
    kind = Forward::Kind::TooLarge;
  } else if (!d.transportError.empty()) {
    reason = d.transportError;
  } else if (!decoded_.decode(d.body, d.headers, d.brokerTimestampUs != 0 ? d.brokerTimestampUs : now, error_)) {
    reason = error_;
  }
  if (reason.empty()) return true;
  hold(d, 0, false, 1);
  forwards_.push_back({std::move(d), kind, std::move(reason)});
  return false;
}

Collector::AlreadyWritten Collector::alreadyWritten(Router::OutputSet targets) const {
  // A batch is one delivery: its records are deduplicated one by one (per output), its history
  // (poison counting) is the delivery's, and it is acked once all its lines are in the files.
  AlreadyWritten w;
  w.fresh = decoded_.size();
  w.ids = router_.sink(0).journal() != nullptr && !decoded_.id(0).empty();
  if (!w.ids) return w;
  // A message's ids are one run (record r's is the first's number + r): when no output has any of
  // them (the usual case), one lookup per output says so instead of one per record and output.
  if (!anyWrittenToAny(targets, decoded_.id(0), decoded_.size())) return w;
  for (size_t r = 0; r < decoded_.size(); ++r) {
    const RecordIdRef id = decoded_.id(r);
    if (!writtenToAny(targets, id)) continue;
    w.known = true;
    if (writtenToAll(targets, id)) --w.fresh;
  }
  return w;
}

bool Collector::judgePoison(Delivery& d, const DeliveryHistory& history, uint32_t maxDeliveries) {
  // Poison messages: counted right after decoding, before the records are formatted or written.
  const auto action = judgeRedelivery(history, maxDeliveries);
  // A batch that failed before is split: its records go back to the queue one per message (with
  // the count), so that a poison record is isolated and the others are written.
  const bool split =
      maxDeliveries > 0 && decoded_.size() > 1 && history.failures() > 0 && action != RedeliveryAction::DeadLetter;
  if (!split && action == RedeliveryAction::Write) return false;
  const bool poison = action == RedeliveryAction::DeadLetter;
  hold(d, 0, false, static_cast<uint32_t>(decoded_.size()));
  forwards_.push_back({std::move(d), poison ? Forward::Kind::Poison : Forward::Kind::Recount,
                       poison ? poisonReason(history.failures()) : std::string(), history.failures(), split});
  return true;
}

uint32_t Collector::format(Router::OutputSet targets, const AlreadyWritten& written, int64_t unstampedAt,
                           uint64_t& duplicates) {
  uint32_t lines = 0;
  formatter_.setMetadata(decoded_.metadata());
  for (size_t r = 0; r < decoded_.size(); ++r) {
    const int64_t ts = decoded_.timestampUs(r);
    const RecordIdRef id = written.ids ? decoded_.id(r) : RecordIdRef{};
    // Formatted once, into the first output that lacks it, and copied into the others.
    const std::string* line = nullptr;
    size_t lineStart = 0;
    size_t lineSize = 0;
    for (const size_t o : Router::outputsIn(targets)) {
      if (written.known && hasRecord(o, id)) continue;  // this output has it
      FileSink& sink = router_.sink(o);
      std::string& pending = sink.pendingBuffer();  // lines go straight into the sink's pending bytes
      if (line == nullptr) {
        lineStart = pending.size();
        formatter_.append(pending, ts, decoded_.message(r));
        lineSize = pending.size() - lineStart;
        line = &pending;
      } else {
        pending.append(*line, lineStart, lineSize);
      }
      if (IdJournal* journal = written.ids ? sink.journal() : nullptr; journal != nullptr) {
        journal->add(id, pending.size());
      }
      ++pendingLines_[o];
    }
    if (line == nullptr) {
      ++duplicates;  // every output it goes to has it
      continue;
    }
    pendingStamps_.push_back(unstampedAt != 0 && ts == unstampedAt ? 0 : ts);
    ++lines;
  }
  return lines;
}

size_t Collector::commit() {
  router_.maintain();
  writeOutputs();
  const int64_t writtenAt = nowMicros();
  sendForwards(forwards_.size());
  size_t lines = 0;
  for (const Held& h : held_) lines += h.lines;
  settle(held_.size());
  countAcked(held_.size(), lines, writtenAt);
  held_.clear();
  heldEnds_.clear();
  return lines;
}

void Collector::settle(size_t n) {
  if (n == 0) return;
  const Held& last = held_[n - 1];
  if (streamOffsets_ != nullptr && last.streamOffset >= 0) {  // every delivery of a stream has its offset
    try {
      streamOffsets_->save(last.streamOffset + 1);
    } catch (const SystemError& e) {
      throw SinkError(fmt::format("cannot save the stream offset: {}", e.what()), e.code());
    }
  }
  consumer_.ackUpTo(last.tag);
}

void Collector::writeOutputs() {
  std::string failed;
  int code = 0;
  for (size_t i = 0; i < router_.size(); ++i) {
    FileSink& sink = router_.sink(i);
    if (!sink.hasPending()) continue;
    const size_t bytes = sink.pendingBytes();
    try {
      sink.flush(options_.fsync);
    } catch (const SinkError& e) {
      // The others are written all the same: their lines are then done, and what is held waits for
      // this one only.
      if (failed.empty()) code = e.code();
      failed += failed.empty() ? "" : "; ";
      failed += e.what();
      continue;
    }
    flushed_[i] += bytes;
    router_.output(i).linesWritten.inc(pendingLines_[i]);
    pendingLines_[i] = 0;
  }
  if (!failed.empty()) throw SinkError(failed, code);
}

void Collector::countAcked(size_t n, size_t lines, int64_t writtenAt) {
  uint64_t records = 0;
  for (size_t i = 0; i < n; ++i) records += held_[i].records;
  metrics_.messagesAcked.inc(n);
  metrics_.recordsAcked.inc(records);
  metrics_.recordsWritten.inc(lines);
  lines = std::min(lines, pendingStamps_.size());
  for (size_t i = 0; i < lines; ++i) {
    if (pendingStamps_[i] != 0) {
      latencies_.observe(static_cast<double>(std::max<int64_t>(0, writtenAt - pendingStamps_[i])) / 1e6);
    }
  }
  pendingStamps_.erase(pendingStamps_.begin(), pendingStamps_.begin() + static_cast<std::ptrdiff_t>(lines));
  metrics_.latency.merge(latencies_);
}

CollectorStats Collector::stats() const {
  CollectorStats s;
  s.received = metrics_.messagesReceived.value();
  s.written = metrics_.recordsWritten.value();
  s.poison = metrics_.deadPoison.value();
  s.deadLettered = metrics_.deadTooLarge.value() + metrics_.deadMalformed.value() + s.poison;
  s.redelivered = metrics_.messagesRedelivered.value();
  s.writeErrors = metrics_.writeErrors.value();
  s.duplicates = metrics_.duplicates.value();
  s.recounted = metrics_.recounted.value();
  return s;
}

std::optional<std::string> Collector::writeProblem() const {
  std::lock_guard lock(problemMu_);
  if (writeProblem_.empty()) return std::nullopt;
  return writeProblem_;
}

void Collector::setWriteProblem(std::string problem) {
  std::lock_guard lock(problemMu_);
  writeProblem_ = std::move(problem);
}

void Collector::ackWritten() {
  // With --fsync a line is not done before fdatasync, which comes after the whole batch.
  if (options_.fsync) return;
  const size_t outputs = router_.size();
  for (size_t i = 0; i < outputs; ++i) done_[i] = flushed_[i] + router_.sink(i).completeBytes();
  auto whole = [&](size_t h) {
    for (size_t i = 0; i < outputs; ++i) {
      if (heldEnds_[h * outputs + i] > done_[i]) return false;
    }
    return true;
  };
  size_t n = 0;
  size_t lines = 0;
  while (n < held_.size() && whole(n)) lines += held_[n++].lines;
  if (n == 0) return;
  const uint64_t tag = held_[n - 1].tag;
  size_t f = 0;
  while (f < forwards_.size() && forwards_[f].delivery.tag <= tag) ++f;
  const int64_t writtenAt = nowMicros();
  sendForwards(f);
  try {
    settle(n);
  } catch (const SinkError& e) {
    spdlog::warn("{}; retrying with the held records", e.what());  // the next commit saves it
    return;
  }
  countAcked(n, lines, writtenAt);
  std::erase_if(kept_, [tag](const Delivery& d) { return d.tag <= tag; });
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(n));
  heldEnds_.erase(heldEnds_.begin(), heldEnds_.begin() + static_cast<std::ptrdiff_t>(n * outputs));
}

void Collector::holdUntilWritten(const SinkError& first) {
  const auto since = Clock::now();
  keepHeld();
  metrics_.writeErrors.inc();
  lastWriteError_ = first.what();
  ackWritten();
  setWriteProblem(fmt::format("{}; holding {} records", lastWriteError_, heldRecords()));
  auto delay = options_.writeRetryDelay;
  auto lastReport = since;
  spdlog::error("{}; holding {} records, retrying in {}; nothing is acknowledged until written", lastWriteError_,
                heldRecords(), seconds(delay));
  for (;;) {
    if (options_.writeRetryFor && Clock::now() - since >= *options_.writeRetryFor) {
      giveUp(fmt::format("gave up after {} (--write-retry-seconds)", seconds(Clock::now() - since)));
    }
    auto nextTry = Clock::now() + delay;
    if (options_.writeRetryFor) nextTry = std::min(nextTry, since + *options_.writeRetryFor);
    // Wait, keeping the broker connection alive. The consumer gives at most its prefetch unacked,
    // so this takes at most that many more deliveries; they join the held ones. Not while holding
    // a record that failed before: it may be what gets us killed, and what we took would count a
    // failed delivery with it (aggregator/redelivery.hpp).
    auto holdingSuspect = [this] {
      return std::any_of(held_.begin(), held_.end(), [](const Held& h) { return h.alone; });
    };
    bool stopping = false;
    while (Clock::now() < nextTry) {
      if (stop_.load(std::memory_order_relaxed)) {
        stopping = true;
        break;
      }
      const auto sliceEnd = std::min(nextTry, Clock::now() + options_.pollInterval);
      batch_.clear();
      const auto wait = std::chrono::duration_cast<milliseconds>(sliceEnd - Clock::now());
      if (consumer_.receive(batch_, holdingSuspect() ? 0 : options_.maxBatch, std::max(wait, milliseconds(0))) > 0) {
        takeNext_ = 0;
        takeAll();
        keepHeld();
      } else if (Clock::now() < sliceEnd) {
        std::this_thread::sleep_until(sliceEnd);  // a consumer at its prefetch may return at once
      }
    }
    try {
      const size_t lines = commit();
      spdlog::info("output writable again after {}; wrote {} held records", seconds(Clock::now() - since), lines);
      lastWriteError_.clear();
      setWriteProblem({});
      kept_.clear();
      return;
    } catch (const SinkError& e) {
      metrics_.writeErrors.inc();
      ackWritten();
      const bool newReason = lastWriteError_ != e.what();
      lastWriteError_ = e.what();
      setWriteProblem(fmt::format("{}; holding {} records", lastWriteError_, heldRecords()));
      if (stopping) giveUp("stopped");
      delay = std::min(delay * 2, options_.writeRetryDelayMax);
      if (newReason) {
        spdlog::error("{}; holding {} records, retrying in {}; nothing is acknowledged until written", lastWriteError_,
                      heldRecords(), seconds(delay));
        lastReport = Clock::now();
      } else if (Clock::now() - lastReport >= kWriteErrorReminder) {
        spdlog::warn("{} (for {} now); holding {} records, retrying in {}", lastWriteError_,
                     seconds(Clock::now() - since), heldRecords(), seconds(delay));
        lastReport = Clock::now();
      }
    }
  }
}

size_t Collector::heldRecords() const {
  size_t n = forwards_.size();
  for (const Held& h : held_) n += h.lines;
  return n;
}

void Collector::giveUp(const std::string& what) {
  const size_t held = heldRecords();
  for (size_t i = 0; i < router_.size(); ++i) {
    router_.sink(i).discard();
    pendingLines_[i] = 0;
  }
  // Not their failure: they go back uncounted. If that fails, the broker redelivers them (counted).
  std::string back = "they were given back to the queue as they were (no failed delivery counted)";
  try {
    handBack(unackedKept());
  } catch (const std::exception& e) {
    back = fmt::format("they were not acknowledged and go back to the queue (giving them back failed: {})", e.what());
  }
  held_.clear();
  heldEnds_.clear();
  forwards_.clear();
  kept_.clear();
  pendingStamps_.clear();
  setWriteProblem({});
  throw SinkError(fmt::format("{} with {} records not written ({}); {}", what, held, lastWriteError_, back));
}

void Collector::sendForwards(size_t n) {
  if (n == 0) return;
  Message m;
  auto send = [&](const Forward& f) {
    if (f.delivery.movedToDeadLetters) return;  // the broker moved it there itself: only counted below
    m.body = f.delivery.body;
    m.headers = f.delivery.headers;
    m.timestampUs = f.delivery.brokerTimestampUs;
    if (f.kind == Forward::Kind::Recount) {
      if (!requeue_) requeue_ = makePublisher_(queue_, PublishRoute::Direct);
      if (f.split) {
        std::vector<Record> records;
        std::string error;
        if (decodeRecords(f.delivery.body, f.delivery.headers, f.delivery.brokerTimestampUs, records, error)) {
          for (const Record& r : records) {
            encodeRecord(r, m);
            m.timestampUs = f.delivery.brokerTimestampUs;
            setRecordedDeliveries(m.headers, f.failures);
            requeue_->publish(m);
          }
          return;
        }
      }
      setRecordedDeliveries(m.headers, f.failures);
      requeue_->publish(m);
      return;
    }
    // The reason says how often it failed; a dead letter moved back to the queue starts afresh.
    std::erase_if(m.headers, [](const Header& h) { return h.key == wire::kDeliveries; });
    m.headers.push_back({std::string(wire::kDeadReason), f.reason});
    m.headers.push_back({std::string(wire::kDeadQueue), queue_});
    if (!deadLetters_) deadLetters_ = makePublisher_(deadLetterQueueName(queue_), PublishRoute::DeadLetter);
    deadLetters_->publish(m);
  };
  // Redeliveries go back with the oldest one last: when an aggregator dies writing a record that
  // failed before (written alone, so the oldest unacked), the others were only in flight behind it.
  const Forward* oldestRecount = nullptr;
  size_t recounts = 0;
  for (size_t i = 0; i < n; ++i) {
    const Forward& f = forwards_[i];
    if (f.kind == Forward::Kind::Recount && recounts++ == 0) {
      oldestRecount = &f;
      continue;
    }
    send(f);
  }
  if (oldestRecount != nullptr) send(*oldestRecount);

  const auto deadline = Clock::now() + options_.deadLetterTimeout;
  for (Publisher* p : {deadLetters_.get(), requeue_.get()}) {
    if (p == nullptr || p->unconfirmed() == 0) continue;
    const char* what = p == deadLetters_.get() ? "dead-letter" : "put back";
    confirms_.clear();
    p->awaitConfirms(0, deadline, confirms_);
    for (const auto& c : confirms_) {
      if (!c.ok) throw Error(fmt::format("could not {} a message: {}", what, c.reason));
    }
    if (p->unconfirmed() > 0) throw Error(fmt::format("could not {} a message: no confirm from the broker", what));
  }

  for (size_t i = 0; i < n; ++i) {
    const Forward& f = forwards_[i];
    switch (f.kind) {
      case Forward::Kind::Recount: continue;
      case Forward::Kind::TooLarge: metrics_.deadTooLarge.inc(); break;
      case Forward::Kind::Malformed: metrics_.deadMalformed.inc(); break;
      case Forward::Kind::Poison: metrics_.deadPoison.inc(); break;
    }
    deadLetterLines_.log(RepeatedLines::Level::Warn, fmt::format("dead-lettered a message to '{}': {}",
                                                                 deadLetterQueueName(queue_), escaped(f.reason)));
  }
  deadLetterLines_.flush();
  if (recounts > 0) {
    metrics_.recounted.inc(recounts);
    spdlog::info("put {} redelivered record(s) back in '{}' with their failed deliveries counted (--max-deliveries {})",
                 recounts, escaped(queue_), options_.maxDeliveries);
  }
  forwards_.erase(forwards_.begin(), forwards_.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace logship
