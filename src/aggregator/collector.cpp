#include "aggregator/collector.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/escape.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"

namespace logship {
namespace {

using std::chrono::milliseconds;

std::string seconds(Clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

// While the output fails, a reminder at most this often (the first error and a new reason are
// logged at once).
constexpr milliseconds kWriteErrorReminder{60'000};

}  // namespace

Collector::Collector(Consumer& consumer, FileSink& sink, PublisherFactory deadLetters, std::string queue,
                     CollectorOptions options, const std::atomic<bool>& stop)
    : consumer_(consumer),
      sink_(sink),
      makeDeadLetterPublisher_(std::move(deadLetters)),
      queue_(std::move(queue)),
      options_(options),
      stop_(stop) {}

void Collector::run() {
  auto lastDelivery = Clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    batch_.clear();
    if (consumer_.receive(batch_, options_.maxBatch, options_.pollInterval) == 0) {
      if (options_.idleExit.count() > 0 && Clock::now() - lastDelivery >= options_.idleExit) {
        spdlog::info("no delivery for {} ms: exiting (--idle-exit)", options_.idleExit.count());
        return;
      }
      continue;
    }
    lastDelivery = Clock::now();
    take();
    try {
      commit();
    } catch (const SinkError& e) {
      holdUntilWritten(e);
      lastDelivery = Clock::now();
    }
  }
  // Stopping: everything written has been acked; what the broker pushed ahead and we did not
  // take goes back to the queue when the consumer closes.
}

void Collector::take() {
  buffer_.clear();
  const size_t base = sink_.pendingBytes();
  const int64_t now = nowMicros();
  for (Delivery& d : batch_) {
    ++stats_.received;
    if (d.redelivered) ++stats_.redelivered;
    std::string reason;
    if (d.body.size() > options_.maxMessageBytes) {
      reason = fmt::format("message of {} bytes is over the limit of {} bytes (--max-message-bytes)", d.body.size(),
                           options_.maxMessageBytes);
    } else if (!d.transportError.empty()) {
      reason = d.transportError;
    } else {
      records_.clear();
      if (!decodeRecords(d.body, d.headers, d.brokerTimestampUs != 0 ? d.brokerTimestampUs : now, records_, error_)) {
        reason = error_;
      }
    }
    if (!reason.empty()) {
      held_.push_back({d.tag, base + buffer_.size(), 0});
      rejected_.push_back({std::move(d), std::move(reason)});
      continue;
    }
    // A batch is one delivery: its lines are written together and it is acked once all are in the file.
    uint32_t lines = 0;
    for (const Record& record : records_) {
      IdJournal* journal = record.id.empty() ? nullptr : sink_.journal();
      if (journal && journal->contains(record.id)) {
        ++stats_.duplicates;
        continue;
      }
      appendFormatted(buffer_, options_.format, record);
      ++lines;
      if (journal) journal->add(record.id, base + buffer_.size());
    }
    held_.push_back({d.tag, base + buffer_.size(), lines});
  }
  sink_.append(buffer_);
}

size_t Collector::commit() {
  if (sink_.hasPending()) sink_.flush(options_.fsync);
  for (const auto& r : rejected_) deadLetter(r.delivery, r.reason);
  rejected_.clear();
  size_t lines = 0;
  for (const Held& h : held_) lines += h.lines;
  if (!held_.empty()) consumer_.ackUpTo(held_.back().tag);
  held_.clear();
  stats_.written += lines;
  return lines;
}

void Collector::ackWritten() {
  // With --fsync a line is not done before fdatasync, which comes after the whole batch.
  if (options_.fsync) return;
  const size_t done = sink_.completeBytes();
  size_t n = 0;
  size_t lines = 0;
  while (n < held_.size() && held_[n].end <= done) lines += held_[n++].lines;
  if (n == 0) return;
  const uint64_t tag = held_[n - 1].tag;
  size_t r = 0;
  while (r < rejected_.size() && rejected_[r].delivery.tag <= tag) {
    deadLetter(rejected_[r].delivery, rejected_[r].reason);
    ++r;
  }
  rejected_.erase(rejected_.begin(), rejected_.begin() + static_cast<std::ptrdiff_t>(r));
  consumer_.ackUpTo(tag);
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(n));
  stats_.written += lines;
}

void Collector::holdUntilWritten(const SinkError& first) {
  const auto since = Clock::now();
  ++stats_.writeErrors;
  lastWriteError_ = first.what();
  ackWritten();
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
    // so this takes at most that many more deliveries; they join the held ones.
    bool stopping = false;
    while (Clock::now() < nextTry) {
      if (stop_.load(std::memory_order_relaxed)) {
        stopping = true;
        break;
      }
      const auto sliceEnd = std::min(nextTry, Clock::now() + options_.pollInterval);
      batch_.clear();
      const auto wait = std::chrono::duration_cast<milliseconds>(sliceEnd - Clock::now());
      if (consumer_.receive(batch_, options_.maxBatch, std::max(wait, milliseconds(0))) > 0) {
        take();
      } else if (Clock::now() < sliceEnd) {
        std::this_thread::sleep_until(sliceEnd);  // a consumer at its prefetch may return at once
      }
    }
    try {
      const size_t lines = commit();
      spdlog::info("output writable again after {}; wrote {} held records", seconds(Clock::now() - since), lines);
      lastWriteError_.clear();
      return;
    } catch (const SinkError& e) {
      ++stats_.writeErrors;
      ackWritten();
      const bool newReason = lastWriteError_ != e.what();
      lastWriteError_ = e.what();
      if (stopping) giveUp("stopped");
      delay = std::min(delay * 2, options_.writeRetryDelayMax);
      if (newReason) {
        spdlog::error("{}; holding {} records, retrying in {}; nothing is acknowledged until written",
                      lastWriteError_, heldRecords(), seconds(delay));
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
  size_t n = rejected_.size();
  for (const Held& h : held_) n += h.lines;
  return n;
}

void Collector::giveUp(const std::string& what) {
  const size_t held = heldRecords();
  sink_.discard();
  held_.clear();
  rejected_.clear();
  throw SinkError(fmt::format("{} with {} records not written ({}); they were not acknowledged and go back to the "
                              "queue",
                              what, held, lastWriteError_));
}

void Collector::deadLetter(const Delivery& d, const std::string& reason) {
  if (!deadLetters_) deadLetters_ = makeDeadLetterPublisher_();
  Message m;
  m.body = d.body;
  m.headers = d.headers;
  m.headers.push_back({std::string(wire::kDeadReason), reason});
  m.headers.push_back({std::string(wire::kDeadQueue), queue_});
  deadLetters_->publish(m);
  std::vector<ConfirmRange> confirms;
  deadLetters_->awaitConfirms(0, Clock::now() + options_.deadLetterTimeout, confirms);
  for (const auto& c : confirms) {
    if (!c.ok) throw Error(fmt::format("could not dead-letter a message: {}", c.reason));
  }
  if (deadLetters_->unconfirmed() > 0) throw Error("could not dead-letter a message: no confirm from the broker");
  ++stats_.deadLettered;
  spdlog::warn("dead-lettered a message to '{}': {}", deadLetterQueueName(queue_), escaped(reason));
}

}  // namespace logship
