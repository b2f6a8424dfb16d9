#include "aggregator/collector.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/escape.hpp"
#include "core/message.hpp"
#include "core/timestamp.hpp"

namespace logship {

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
    processBatch();
  }
  // Stopping: everything written has been acked; what the broker pushed ahead and we did not
  // take goes back to the queue when the consumer closes.
}

void Collector::processBatch() {
  buffer_.clear();
  std::vector<std::pair<const Delivery*, std::string>> rejected;
  const int64_t now = nowMicros();
  for (const Delivery& d : batch_) {
    ++stats_.received;
    if (d.redelivered) ++stats_.redelivered;
    if (d.body.size() > options_.maxMessageBytes) {
      rejected.emplace_back(&d, fmt::format("message of {} bytes is over the limit of {} bytes (--max-message-bytes)",
                                            d.body.size(), options_.maxMessageBytes));
      continue;
    }
    if (!d.transportError.empty()) {
      rejected.emplace_back(&d, d.transportError);
      continue;
    }
    if (!decodeMessage(d.body, d.headers, d.brokerTimestampUs != 0 ? d.brokerTimestampUs : now, record_, error_)) {
      rejected.emplace_back(&d, error_);
      continue;
    }
    appendFormatted(buffer_, options_.format, record_);
    ++stats_.written;
  }
  if (!buffer_.empty()) {
    sink_.write(buffer_);
    if (options_.fsync) sink_.sync();
  }
  for (const auto& [d, reason] : rejected) deadLetter(*d, reason);
  consumer_.ackUpTo(batch_.back().tag);
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
