#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "core/output_format.hpp"
#include "core/record.hpp"

namespace logship {

struct CollectorOptions {
  OutputFormat format = OutputFormat::Text;
  bool fsync = false;                      // fdatasync before every ack
  size_t maxMessageBytes = 1024 * 1024;    // larger deliveries are dead-lettered
  size_t maxBatch = 512;                   // deliveries written (and acked) together
  std::chrono::milliseconds idleExit{0};   // 0: run until stopped
  std::chrono::milliseconds pollInterval{200};
  std::chrono::milliseconds deadLetterTimeout{15'000};
};

struct CollectorStats {
  uint64_t received = 0;
  uint64_t written = 0;
  uint64_t deadLettered = 0;
  uint64_t redelivered = 0;
};

// The aggregator's loop, written once for every broker:
//   receive a batch -> decode -> format into one buffer -> write (and fsync) -> dead-letter what
//   could not be decoded (and wait for the broker's confirm) -> ack the whole batch with one
//   multiple-ack.
// A delivery is acked only after its line is in the output file or its message is confirmed in
// the dead-letter queue: at-least-once, whatever crashes.
class Collector {
 public:
  using PublisherFactory = std::function<std::unique_ptr<Publisher>()>;

  Collector(Consumer& consumer, FileSink& sink, PublisherFactory deadLetters, std::string queue,
            CollectorOptions options, const std::atomic<bool>& stop);

  // Runs until `stop` is set or the idle timeout passes. Throws on broker or sink failures, leaving
  // everything not yet acked to be redelivered.
  void run();
  const CollectorStats& stats() const { return stats_; }

 private:
  void processBatch();
  void deadLetter(const Delivery& d, const std::string& reason);

  Consumer& consumer_;
  FileSink& sink_;
  PublisherFactory makeDeadLetterPublisher_;
  std::unique_ptr<Publisher> deadLetters_;
  std::string queue_;
  CollectorOptions options_;
  const std::atomic<bool>& stop_;
  CollectorStats stats_;
  std::vector<Delivery> batch_;
  std::string buffer_;
  Record record_;
  std::string error_;
};

}  // namespace logship
