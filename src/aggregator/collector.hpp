#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "aggregator/redelivery.hpp"
#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "core/output_format.hpp"
#include "core/record.hpp"
#include "metrics/metric.hpp"

namespace logship {

struct CollectorOptions {
  OutputFormat format = OutputFormat::Text;
  bool fsync = false;                      // fdatasync before every ack
  size_t maxMessageBytes = 1024 * 1024;    // larger deliveries are dead-lettered
  size_t maxBatch = 512;                   // deliveries written (and acked) together
  size_t maxBatchBytes = 8 * 1024 * 1024;  // ... fewer when they are large (batches), about this many bytes
  std::chrono::milliseconds idleExit{0};   // 0: run until stopped
  std::chrono::milliseconds pollInterval{200};
  std::chrono::milliseconds deadLetterTimeout{15'000};  // the confirms of what one batch sends on
  // Poison messages (aggregator/redelivery.hpp): a record is dead-lettered once this many of its
  // deliveries ended without its being written. 0: no limit, and redeliveries are not counted.
  uint32_t maxDeliveries = 5;
  // Output write errors: the deliveries not yet written are held (never acked) and the write is
  // retried after writeRetryDelay, doubling up to writeRetryDelayMax, until it succeeds.
  std::chrono::milliseconds writeRetryDelay{500};
  std::chrono::milliseconds writeRetryDelayMax{30'000};
  // Give up (SinkError: exit 1, the held deliveries go back to the broker) once the output has
  // stayed unwritable this long. nullopt: retry forever, logs are not dropped; 0: the first error.
  std::optional<std::chrono::milliseconds> writeRetryFor;
};

// What the collector did, counted as it goes: its statistics, readable from any thread while it
// runs (the aggregator's metrics, aggregator/aggregator_metrics.hpp). The loop adds to them once
// per batch where it can, not per record.
struct CollectorMetrics {
  metrics::Counter messagesReceived;     // deliveries taken from the broker
  metrics::Counter recordsReceived;      // the records they held (an undecodable one counts as one)
  metrics::Counter bytesReceived;        // their body bytes
  metrics::Counter messagesRedelivered;  // deliveries the broker flagged as delivered before
  metrics::Counter recordsWritten;       // lines written to the output
  metrics::Counter messagesAcked;        // deliveries acknowledged
  metrics::Counter recordsAcked;         // the records they held
  metrics::Counter duplicates;           // records whose id was already written: acked, not written again
  metrics::Counter deadTooLarge;         // dead-lettered: over maxMessageBytes
  metrics::Counter deadMalformed;        // dead-lettered: could not be decoded
  metrics::Counter deadPoison;           // dead-lettered: after maxDeliveries failed deliveries
  metrics::Counter recounted;  // redeliveries sent on to the queue with their failure recorded, then acked
  metrics::Counter writeErrors;          // failed attempts to write (or sync) the output
  metrics::Histogram batchRecords{metrics::buckets::records()};  // records per decoded delivery
  // From a record's timestamp (its producer's clock) to its line being written; records without a
  // timestamp of their own (a plain client's message without one) are not observed.
  metrics::Histogram latency{metrics::buckets::seconds()};
};

// A snapshot of the counts, for the exit line and the tests.
struct CollectorStats {
  uint64_t received = 0;  // deliveries
  uint64_t written = 0;
  uint64_t deadLettered = 0;
  uint64_t redelivered = 0;
  uint64_t writeErrors = 0;  // failed attempts to write (or sync) the output
  uint64_t duplicates = 0;   // records whose id was already written: acked, not written again
  uint64_t poison = 0;       // of deadLettered: after --max-deliveries failed deliveries
  uint64_t recounted = 0;    // redeliveries sent on to the queue with their failure recorded, then acked
};

// Work on the output file that must not split a line or lose an acknowledged record: switching the
// output to another file (rotation, reopening after logrotate). The collector calls it at safe
// points: before writing a batch (its lines formatted, `upcomingBytes` of them, none written yet)
// and when a receive came back empty, never while a failed write is held. Everything written
// before is acknowledged then. OutputRotator (aggregator/rotation.hpp) implements it.
class OutputMaintenance {
 public:
  virtual ~OutputMaintenance() = default;
  virtual void betweenCommits(size_t upcomingBytes) noexcept = 0;
};

// The aggregator's loop, written once for every broker:
//   receive a batch -> decode -> format into one buffer -> write (and fsync) -> dead-letter what
//   could not be decoded, and send redeliveries on with their failure recorded (and wait for the
//   broker's confirms) -> ack the whole batch with one multiple-ack.
// A delivery is acked only after its line is in the output file or its message is confirmed in
// the dead-letter queue (or, for a redelivery being counted, back in the queue): at-least-once,
// whatever crashes.
//
// Poison messages (aggregator/redelivery.hpp): right after decoding, before anything else is done
// with it, a delivery's failed deliveries are counted (its logship-deliveries header plus what the
// broker reports). Once they reach maxDeliveries it is dead-lettered ("delivered N times without
// being written ..."); a redelivery whose failure the message does not record yet (RabbitMQ) is
// published again to the queue with the count recorded, and acked once that is confirmed.
//
// Duplicate suppression (when the sink has an IdJournal, FileSink::enableDedup): a record whose id
// was already written to this output (or is in the batch being written) is not written again; it
// is acked together with the deliveries around it, so only once the lines before it are in the
// file. The journal entry for a batch is written by FileSink::flush just before the bytes, for
// every (re)try, so a held batch is journaled with the offsets it really gets.
//
// When the output cannot be written (disk full, file too large, I/O error, permission), the
// collector holds what it took: it acks the deliveries whose lines did reach the file and nothing
// else, logs one error line, and retries with exponential backoff. While it waits it keeps calling
// Consumer::receive, which keeps the connection alive (AMQP heartbeats, the Redis lease); a
// consumer never holds more than its prefetch unacked, so what arrives meanwhile (at most that
// many) joins the held deliveries. A stop request while holding makes one last attempt, then
// run() throws ("stopped with N records not written ..."): nothing unwritten was acked, and
// closing the consumer gives it back to the broker.
class Collector {
 public:
  // Opens a publisher to a queue: the dead-letter queue (PublishRoute::DeadLetter), or the queue
  // itself (PublishRoute::Direct: a redelivery sent on with its count, which tails do not show
  // again). Called at most once per queue, when first needed.
  using PublisherFactory = std::function<std::unique_ptr<Publisher>(const std::string& queue, PublishRoute route)>;

  Collector(Consumer& consumer, FileSink& sink, PublisherFactory publishers, std::string queue,
            CollectorOptions options, const std::atomic<bool>& stop);

  // Runs until `stop` is set or the idle timeout passes. Throws on broker failures, when stopped
  // while holding deliveries it could not write, and when the output stayed unwritable longer than
  // writeRetryFor; everything not yet acked is then left to be redelivered.
  void run();
  // Safe from any thread.
  CollectorStats stats() const;
  const CollectorMetrics& metrics() const { return metrics_; }
  // While the output cannot be written (the collector holds what it took and retries): why, and
  // what is held. nullopt when writing works. Safe from any thread.
  std::optional<std::string> writeProblem() const;
  // Output maintenance at safe points (nullptr: none). Set before run().
  void setMaintenance(OutputMaintenance* maintenance) { maintenance_ = maintenance; }

 private:
  // A delivery taken and not yet acked: its lines (one per record; a batch has several) end at
  // `end` in the sink's pending batch (one sent on, to the dead-letter queue or back to the queue,
  // takes no bytes).
  struct Held {
    uint64_t tag;
    size_t end;
    uint32_t lines;  // 0: sent on, or only duplicates (acked only)
    bool alone = false;  // written alone: it failed before (aggregator/redelivery.hpp)
    uint32_t records = 1;  // records the delivery held (1 if it could not be decoded)
  };
  // A held delivery to publish before it is acked.
  struct Forward {
    enum class Kind { TooLarge, Malformed, Poison, Recount };  // the first three are dead letters
    Delivery delivery;
    Kind kind;
    std::string reason;     // dead letters
    uint32_t failures = 0;  // Poison, Recount: the failed deliveries counted
    bool split = false;     // Recount of a batch: its records go back one per message
  };

  // Formats batch_[from, segmentEnd) into the sink's pending lines and the held list; returns the
  // index after the last delivery taken.
  size_t take(size_t from);
  void takeAll();  // takes the rest of batch_, from takeNext_ on
  size_t commit();  // writes the held lines, sends on the forwards, acks all held; returns the lines
                    // written. SinkError if the output failed (nothing more is acked then)
  void ackWritten();  // after a failed write: acks the held deliveries whose lines are in the file
  void holdUntilWritten(const SinkError& first);
  [[noreturn]] void giveUp(const std::string& what);  // "stopped", "gave up after ...": throws SinkError
  // Publishes the first `n` forwards (dead letters to queue.dead, recounts to the queue), waits
  // for every confirm (throws unless all are confirmed) and drops them from forwards_.
  void sendForwards(size_t n);
  size_t heldRecords() const;  // lines to write and messages to send on, in held_
  // Counts the first `n` held deliveries as acked with their `lines` lines, which reached the file
  // at `writtenAt` (µs): their latencies are observed (pendingStamps_).
  void countAcked(size_t n, size_t lines, int64_t writtenAt);
  void setWriteProblem(std::string problem);
  void maintain();  // OutputMaintenance::betweenCommits, if it is a safe point

  Consumer& consumer_;
  FileSink& sink_;
  PublisherFactory makePublisher_;
  std::unique_ptr<Publisher> deadLetters_;  // to queue.dead
  std::unique_ptr<Publisher> requeue_;      // to the queue itself
  std::string queue_;
  CollectorOptions options_;
  const std::atomic<bool>& stop_;
  CollectorMetrics metrics_;
  metrics::HistogramBatch batchSizes_{metrics_.batchRecords};
  metrics::HistogramBatch latencies_{metrics_.latency};
  // One per line in the sink's pending bytes: the record's timestamp (µs), 0 if it has none.
  std::vector<int64_t> pendingStamps_;
  mutable std::mutex problemMu_;
  std::string writeProblem_;  // see writeProblem()
  std::vector<Delivery> batch_;
  size_t takeNext_ = 0;  // batch_[takeNext_...] are received and not yet taken
  std::vector<Held> held_;
  std::vector<Forward> forwards_;  // the held ones to publish before their ack, in tag order
  std::vector<ConfirmRange> confirms_;
  std::string lastWriteError_;
  DecodedMessage decoded_;  // the delivery being taken
  LineFormatter formatter_;
  std::string error_;
  OutputMaintenance* maintenance_ = nullptr;
};

}  // namespace logship
