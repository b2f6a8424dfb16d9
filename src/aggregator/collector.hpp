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
#include "aggregator/router.hpp"
#include "aggregator/stream_offset.hpp"
#include "broker/consumer.hpp"
#include "broker/publisher.hpp"
#include "core/output_format.hpp"
#include "core/record.hpp"
#include "core/repeated_lines.hpp"
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
  metrics::Counter recordsWritten;       // records written (to every output they go to; counted once each)
  metrics::Counter messagesAcked;        // deliveries acknowledged
  metrics::Counter recordsAcked;         // the records they held
  metrics::Counter duplicates;           // records already written to every output they go to: acked, not written again
  metrics::Counter deadTooLarge;         // dead-lettered: over maxMessageBytes
  metrics::Counter deadMalformed;        // dead-lettered: could not be decoded
  metrics::Counter deadPoison;           // dead-lettered: after maxDeliveries failed deliveries
  metrics::Counter recounted;            // redeliveries sent on to the queue with their failure recorded, then acked
  metrics::Counter writeErrors;          // failed attempts to write (or sync) the outputs
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

// The aggregator's loop, written once for every broker:
//   receive a batch -> decode -> route (aggregator/router.hpp: which outputs get each message's
//   records) -> format into one buffer per output -> write (and fsync) every output that got
//   lines -> dead-letter what could not be decoded, and send redeliveries on with their failure
//   recorded (and wait for the broker's confirms) -> ack the whole batch with one multiple-ack.
// A delivery is acked only after its lines are in EVERY output file they go to, or its message is
// confirmed in the dead-letter queue (or, for a redelivery being counted, back in the queue):
// at-least-once, whatever crashes.
//
// Outputs: the default one and the routed ones are alike (a FileSink each, with its own duplicate
// journal, rotation and write-error handling). A message's records share their level, service and
// host, so the routing rules are evaluated once per message. A record's line is formatted once and
// copied into the other outputs' buffers.
//
// Poison messages (aggregator/redelivery.hpp): right after decoding, before anything else is done
// with it, a delivery's failed deliveries are counted (its logship-deliveries header plus what the
// broker reports). Once they reach maxDeliveries it is dead-lettered ("delivered N times without
// being written ..."); a redelivery whose failure the message does not record yet (RabbitMQ) is
// published again to the queue with the count recorded, and acked once that is confirmed.
//
// Duplicate suppression (when the sinks have an IdJournal, FileSink::enableDedup), per output: a
// record whose id was already written to an output (or is in the batch being written to it) is not
// written to that output again. A record already in every output it goes to is not written at all;
// it is acked together with the deliveries around it, so only once the lines before it are in the
// files. The journal entry for a batch is written by FileSink::flush just before the bytes, for
// every (re)try, so a held batch is journaled with the offsets it really gets. So after a crash
// between the writes of two outputs, the redelivered records go to the output that lacks them only.
//
// When an output cannot be written (disk full, file too large, I/O error, permission), the
// collector holds what it took: it writes on to the other outputs, acks the deliveries whose lines
// reached every file they go to and nothing else, logs one error line, and retries with
// exponential backoff. While it waits it keeps calling
// Consumer::receive, which keeps the connection alive (AMQP heartbeats, the Redis lease); a
// consumer never holds more than its prefetch unacked, so what arrives meanwhile (at most that
// many) joins the held deliveries. A stop request while holding makes one last attempt, then
// run() throws ("stopped with N records not written ..."): nothing unwritten was acked.
//
// Giving back (handBack): a clean stop, and giving up on an unwritable output, are no failure of
// the deliveries not yet acked, so they go back to the queue without counting one
// (Consumer::stopForHandBack): Redis puts them back as they are; over RabbitMQ, where anything
// requeued comes back redelivered (one failure), the collector publishes copies with their count as
// it is to the queue, waits for the confirms, then acks the originals. Any other way out (a crash,
// a lost connection, an exception) leaves them to the broker: redelivered, and counted.
class Collector {
 public:
  // Opens a publisher to a queue: the dead-letter queue (PublishRoute::DeadLetter), or the queue
  // itself (PublishRoute::Direct: a redelivery sent on with its count, which tails do not show
  // again). Called at most once per queue, when first needed.
  using PublisherFactory = std::function<std::unique_ptr<Publisher>(const std::string& queue, PublishRoute route)>;

  // The router's outputs are fixed: every route is added before.
  Collector(Consumer& consumer, Router& router, PublisherFactory publishers, std::string queue,
            CollectorOptions options, const std::atomic<bool>& stop);

  // Runs until `stop` is set or the idle timeout passes. Throws on broker failures, when stopped
  // while holding deliveries it could not write, and when the output stayed unwritable longer than
  // writeRetryFor. After a stop, and in the two last cases, what is not acked is given back
  // uncounted (handBack); after broker failures it is left to be redelivered.
  void run();
  // Reading a stream (deliveries with a Delivery::streamOffset): after each batch is done, the
  // offset after its last delivery is saved here before the ack (aggregator/stream_offset.hpp).
  // Stream deliveries are never judged as poison (a stream never redelivers) nor given back.
  void setStreamOffsets(StreamOffsetFile* offsets) { streamOffsets_ = offsets; }
  // Safe from any thread.
  CollectorStats stats() const;
  const CollectorMetrics& metrics() const { return metrics_; }
  // While an output cannot be written (the collector holds what it took and retries): why, and
  // what is held. nullopt when writing works. Safe from any thread.
  std::optional<std::string> writeProblem() const;

 private:
  // A delivery taken and not yet acked. Where its lines end in each output's stream is in
  // heldEnds_ (one sent on, to the dead-letter queue or back to the queue, takes no bytes).
  struct Held {
    uint64_t tag;
    uint32_t lines;             // its records written (to one output or more); 0: sent on, or only duplicates
    bool alone = false;         // written alone: it failed before (aggregator/redelivery.hpp)
    uint32_t records = 1;       // records the delivery held (1 if it could not be decoded)
    int64_t streamOffset = -1;  // Delivery::streamOffset
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

  // What take() counts of the deliveries it takes, added to the metrics once per call.
  struct TakeCounts {
    uint64_t records = 0;
    uint64_t bytes = 0;      // as received (a compressed batch: compressed)
    uint64_t textBytes = 0;  // the records' text (inflated): what formatting them takes in memory
    uint64_t redelivered = 0;
    uint64_t duplicates = 0;  // records not written: every output they go to has them
  };
  // Which records of the delivery being taken (decoded_) the outputs they go to have already.
  struct AlreadyWritten {
    bool ids = false;    // its records have ids and the outputs journal them (duplicate suppression)
    bool known = false;  // some record is in some output it goes to already
    size_t fresh = 0;    // records that some output they go to lacks
  };

  // Formats batch_[from, segmentEnd) into the outputs' pending lines and the held list; returns
  // the index after the last delivery taken.
  size_t take(size_t from);
  void takeAll();  // takes the rest of batch_, from takeNext_ on
  // Takes one delivery, in these steps (each one that ends with it holds it):
  void takeOne(Delivery& d, int64_t now, uint32_t maxDeliveries, TakeCounts& counts);
  // 1. Decodes `d` into decoded_; or, when it cannot be written at all (over maxMessageBytes,
  //    undecodable), holds it as a dead letter and returns false.
  bool classify(Delivery& d, int64_t now);
  // 2. Which of decoded_'s records, going to `targets`, are written already (or pending).
  AlreadyWritten alreadyWritten(Router::OutputSet targets) const;
  // 3. Poison messages (aggregator/redelivery.hpp): holds `d` as a forward and returns true when it
  //    is dead-lettered or sent back to the queue with its count (whole or split) instead of written.
  bool judgePoison(Delivery& d, const DeliveryHistory& history, uint32_t maxDeliveries);
  // 4. Formats decoded_'s records into the pending lines of every output in `targets` that lacks
  //    them; returns the records written, counts those every output has in `duplicates`.
  //    `unstampedAt`: the time a record without a timestamp was given (no latency observed for
  //    it); 0 when the delivery had a broker timestamp.
  uint32_t format(Router::OutputSet targets, const AlreadyWritten& written, int64_t unstampedAt, uint64_t& duplicates);
  void hold(const Delivery& d, uint32_t lines, bool alone, uint32_t records);  // held_ and heldEnds_
  // The first `n` held deliveries are done: saves the stream offset after them (SinkError if it
  // cannot), then acks them.
  void settle(size_t n);
  // True if output `output` has the record with this id (written, or pending).
  bool hasRecord(size_t output, const RecordIdRef& id) const;
  // True if every (some) output in `targets` has the record with this id.
  bool writtenToAll(Router::OutputSet targets, const RecordIdRef& id) const;
  bool writtenToAny(Router::OutputSet targets, const RecordIdRef& id) const;
  // True if some output in `targets` has any of the `count` records with consecutive ids from
  // `first` (IdJournal::containsAny).
  bool anyWrittenToAny(Router::OutputSet targets, const RecordIdRef& first, uint64_t count) const;
  size_t commit();  // writes the held lines, sends on the forwards, acks all held; returns the records
                    // written. SinkError if an output failed (nothing more is acked then)
  // Writes (and syncs) every output with pending lines, all of them even when one fails; then
  // SinkError naming every output that failed.
  void writeOutputs();
  void ackWritten();  // after a failed write: acks the held deliveries whose lines are in every file
  void holdUntilWritten(const SinkError& first);
  [[noreturn]] void giveUp(const std::string& what);  // "stopped", "gave up after ...": throws SinkError
  void keepHeld();  // moves batch_ into kept_ (while holding, the bodies of held_ must stay)
  // The kept_ deliveries in held_ that are not forwards (those are in forwards_): not yet acked.
  std::vector<Delivery> unackedKept();
  // Gives back the forwards, `held` and what the broker pushed ahead (see the class comment).
  // Returns how many copies were published.
  size_t handBack(std::vector<Delivery> held);
  // Publishes the first `n` forwards (dead letters to queue.dead, recounts to the queue), waits
  // for every confirm (throws unless all are confirmed) and drops them from forwards_.
  void sendForwards(size_t n);
  size_t heldRecords() const;  // lines to write and messages to send on, in held_
  // Counts the first `n` held deliveries as acked with their `lines` lines, which reached the file
  // at `writtenAt` (µs): their latencies are observed (pendingStamps_).
  void countAcked(size_t n, size_t lines, int64_t writtenAt);
  void setWriteProblem(std::string problem);

  Consumer& consumer_;
  Router& router_;
  PublisherFactory makePublisher_;
  std::unique_ptr<Publisher> deadLetters_;  // to queue.dead
  std::unique_ptr<Publisher> requeue_;      // to the queue itself
  StreamOffsetFile* streamOffsets_ = nullptr;
  std::string queue_;
  CollectorOptions options_;
  const std::atomic<bool>& stop_;
  CollectorMetrics metrics_;
  metrics::HistogramBatch batchSizes_{metrics_.batchRecords};
  metrics::HistogramBatch latencies_{metrics_.latency};
  // Per output: the bytes of its batches written before the current pending one, so that a
  // position in its stream (flushed_ + a position in the pending bytes) survives the flush.
  std::vector<uint64_t> flushed_;
  std::vector<uint32_t> pendingLines_;  // per output: lines in its pending bytes
  std::vector<uint64_t> done_;          // per output: scratch of ackWritten
  // held_[h] ends at heldEnds_[h * router_.size() + i] in output i's stream.
  std::vector<uint64_t> heldEnds_;
  // One per record written in held_ (in order): the record's timestamp (µs), 0 if it has none.
  std::vector<int64_t> pendingStamps_;
  mutable std::mutex problemMu_;
  std::string writeProblem_;  // see writeProblem()
  std::vector<Delivery> batch_;
  size_t takeNext_ = 0;          // batch_[takeNext_...] are received and not yet taken
  uint64_t takenTextBytes_ = 0;  // the text (inflated) of the deliveries of this receive taken so far
  std::vector<Held> held_;
  std::vector<Delivery> kept_;     // while holding after a write error: deliveries received, by tag
  std::vector<Forward> forwards_;  // the held ones to publish before their ack, in tag order
  RepeatedLines deadLetterLines_;  // "dead-lettered a message": one per message, a poisoned batch at once
  std::vector<ConfirmRange> confirms_;
  std::string lastWriteError_;
  DecodedMessage decoded_;  // the delivery being taken
  LineFormatter formatter_;
  std::string error_;
};

}  // namespace logship
