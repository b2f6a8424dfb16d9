#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/publisher.hpp"
#include "core/message.hpp"
#include "core/record.hpp"
#include "core/repeated_lines.hpp"
#include "metrics/metric.hpp"
#include "producer/spool.hpp"

namespace logship {

struct ShipperOptions {
  size_t confirmWindow = 1024;                       // messages in flight before we wait for confirms
  size_t maxMessageBytes = 1024 * 1024;              // larger messages are refused (--max-message-bytes)
  std::chrono::milliseconds confirmTimeout{30'000};  // no confirm for this long while some are due: the broker is stuck
  // Record ids are "<idPrefix>-<n>", n = firstId, firstId + 1, ...; an empty prefix is replaced by
  // 16 random hex digits (a new producer instance).
  std::string idPrefix;
  uint64_t firstId = 1;
  // Batching (docs/FORMATS.md, "Batches"): up to batchRecords records (1: one record per message)
  // and batchBytes of text per message; a batch waits at most linger for more records.
  size_t batchRecords = 1000;
  size_t batchBytes = 256 * 1024;
  std::chrono::milliseconds linger{5};
  // --compress: the zstd level of batches' bodies (batches of 2 or more records), 0 for none.
  int zstdLevel = 0;
  // Message bytes in flight (sent, not yet confirmed), in addition to the confirm window.
  size_t maxInFlightBytes = 4 * 1024 * 1024;
  // --spool-dir: records are kept on disk until confirmed (empty: in memory only).
  std::string spoolDir;
  SpoolLimits spoolLimits;
  // The queue the spool's records are for (DiskSpool::claimQueue: a spool holding records for
  // another queue is refused). Empty: not checked.
  std::string spoolQueue;
  // With a spool, after the input ended: give up (records stay in the spool) when the broker could
  // not be reached, or confirmed nothing, for this long (--reconnect-seconds).
  std::chrono::milliseconds spoolGiveUpAfter{300'000};
  // With a spool, after a stop signal: how long the last confirms are waited for (abort() too).
  std::chrono::milliseconds stopGrace{5'000};
  // Called first thing on the sender thread (the client library marks its threads with it, so that
  // what they log is never fed back into the library: src/client/).
  std::function<void()> onSenderThread;
};

// What the pipeline did, counted as it goes: its statistics, readable from any thread while it runs
// (the producer's metrics, producer/producer_metrics.hpp). Added to once per batch where it can.
struct ShipperMetrics {
  metrics::Counter read;            // records given to ship() or refuse()
  metrics::Counter accepted;        // stored in the spool: the producer is responsible for them
  metrics::Counter published;       // records sent to the broker (again after the spool's reconnect)
  metrics::Counter bytesPublished;  // their message body bytes
  metrics::Counter confirmed;       // the broker confirmed them
  metrics::Counter failed;          // the broker refused them, or never confirmed them
  metrics::Counter refused;         // over the size limit: never sent
  metrics::Counter dropped;         // the spool was full (--spool-full drop)
  metrics::Counter recovered;       // found in the spool at start
  metrics::Histogram batchRecords{metrics::buckets::records()};  // records per message published
  metrics::Gauge inFlightMessages;                               // published, not yet confirmed
  metrics::Gauge inFlightBytes;
};

// The outcome of a run: a snapshot of the counts (final once finish() returned).
struct ShipReport {
  uint64_t sent = 0;       // accepted from the input (in the spool) and sent on
  uint64_t confirmed = 0;  // the broker confirmed it has them: these are safe
  uint64_t failed = 0;     // the broker refused them (nack, unroutable) or never confirmed them
  uint64_t refused = 0;    // never sent: over the size limit
  uint64_t dropped = 0;    // never stored: the spool was full (--spool-full drop)
  uint64_t recovered = 0;  // found in the spool at start (left by an earlier run)
  uint64_t remaining = 0;  // still in the spool at exit (sent by the next run)
  std::string firstFailure;
};

// Opens a publisher. `abort` is set when the attempt should be given up (a stop request, or the
// spool's give-up time): pass it on as BrokerOptions::stopRequested.
using PublisherConnect = std::function<std::unique_ptr<Publisher>(const std::atomic<bool>* abort)>;

// The producer's shipping pipeline. The calling thread turns messages into records (metadata from
// a template) and appends them to a spool (memory, or disk with --spool-dir); a sender thread
// publishes them through a Publisher with a window of unconfirmed messages and releases what the
// broker confirmed. A record counts as delivered only when the broker confirmed it.
//
// Without a spool directory the first connection is opened in the constructor (an unreachable
// broker is an error at once) and a lost connection the publisher gives up on ends the run. With
// one, records are accepted while the broker is down: the sender connects in the background and
// keeps every unconfirmed record in the spool across connections and runs. Which of the two the
// Shipper does follows from the spool's promise (Spool::durable()); it never names a spool type.
//
// Threads: the input thread calls ship(), refuse(), nextRecordId(), flushDue(), settledInput() and
// finish(); the sender thread is private; report(), metrics(), confirmedSoFar(), failed() and
// abort() are safe from any thread. The private members are grouped by the thread that owns them.
class Shipper {
 public:
  Shipper(PublisherConnect connect, Record recordTemplate, ShipperOptions options);
  ~Shipper();
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  // Ships one record with `message` as its text, the template's metadata and the current time.
  // Returns false when it was not taken: over the size limit (counted as refused), dropped by a full
  // spool (counted), or the sender has failed (finish() reports why). Blocks while the spool is
  // full (backpressure).
  bool ship(std::string_view message);
  // Ships `record` with its own metadata (inputs that parse it: syslog, JSON, the client library;
  // start from recordTemplate() for what the input does not say). A timestamp of 0 means now; the
  // id is ignored (the shipper numbers every record). Records are batched while level, service, host
  // and fields stay the same and timestamps do not go back. Returns as ship(message) does.
  bool ship(const Record& record);
  // The next record given to ship() gets the id "<prefix>-<n>" instead of the next one of this
  // instance (an input whose records have an identity of their own: a followed file's lines,
  // docs/FORMATS.md "Record ids of followed lines"). A batch holds consecutive ids of one prefix:
  // another prefix, or a gap, starts a new batch. `prefix` must stay valid until that ship().
  void nextRecordId(std::string_view prefix, uint64_t n) {
    givenPrefix_ = prefix;
    givenN_ = n;
    idGiven_ = true;
  }
  // The metadata given on the command line (--service, --host, --level, --field).
  const Record& recordTemplate() const { return record_; }
  // The input's checkpoint (file offsets, docs/RELIABILITY.md): how many of the records given to
  // ship() and refuse() in this run, counted from the first, are settled: all of them, and every
  // one before them, are safe — confirmed by the broker (in memory), stored in the spool (with
  // --spool-dir), or never to be sent (refused as too large, dropped by a full spool). A record the
  // broker refused without a disk spool is not settled, nor any after it. Call from the thread
  // that calls ship().
  uint64_t settledInput();
  // How many records were given to ship() and refuse() in this run so far: an input notes it after
  // handing over records, to know when settledInput() covers them.
  uint64_t handedOver() const { return inputSeq_; }
  // The bookkeeping settledInput() keeps: one mark per message stored and not yet safe. Whether or
  // not the input ever asks for its checkpoint, it stays bounded by the messages in the spool and in
  // flight (marks are dropped as their messages settle, and all of them once nothing can settle
  // any more: a refusal without a disk spool).
  size_t inputMarks() const { return marks_.size(); }
  // Sends the batch being built when its linger time has passed (call when the input is idle).
  void flushDue();
  // How long the input may wait for more before flushDue() has something to do.
  std::chrono::milliseconds wakeIn() const;
  // Counts a message the caller could not even read whole (over the size limit).
  void refuse() {
    metrics_.read.inc();
    metrics_.refused.inc();
    ++inputSeq_;
  }
  // Gives up, from any thread: a ship() blocked on a full spool returns false (its records count as
  // not delivered), the sender collects the confirms due for options.stopGrace and stops, a
  // connection attempt in progress is abandoned (with a spool, the records stay there). Then call
  // finish(true) from the shipping thread. Used by the client library at close when its flush
  // timed out.
  void abort();
  // True once the sender has failed: stop reading, call finish().
  bool failed() const { return senderDone_.load() && senderError_ != nullptr; }
  // Ends the input and waits for the sender: every record confirmed (or, with a spool, given up
  // and kept there). `stopping`: a stop signal ended the input (with a spool, wait only
  // options.stopGrace for confirms). Rethrows the sender's error, if any, with the counts added.
  void finish(bool stopping);

  // Safe from any thread while the sender runs (DrainProgress, the client library read it then).
  ShipReport report() const;
  // Records confirmed so far (report().confirmed once finished); may be read from any thread.
  uint64_t confirmedSoFar() const { return metrics_.confirmed.value(); }
  bool allConfirmed() const {
    const ShipReport r = report();
    return r.refused == 0 && r.failed == 0 && r.dropped == 0 && r.remaining == 0 && r.confirmed == r.sent + r.recovered;
  }
  // Safe from any thread.
  const ShipperMetrics& metrics() const { return metrics_; }
  const Spool& spool() const { return *spool_; }

 private:
  struct InFlight {
    // For Spool::keepRefused; the same message the publisher keeps for resending (a memory spool
    // hands its entries over: one copy of a message in flight).
    std::shared_ptr<const Message> message;
    size_t bytes = 0;
    uint64_t records = 1;
    enum class State { Waiting, Confirmed, Failed } state = State::Waiting;
    std::string reason;
  };
  // Adds one record (metadata from `meta`, or the template when `meta` is null) to the batch.
  bool add(const Record* meta, std::string_view message, int64_t timestampUs);
  bool flushBatch();           // appends the batch being built to the spool
  bool store(size_t records);  // appends message_ (holding `records` records) to the spool
  void run();                  // the sender thread
  bool connectPublisher();     // false: given up (stop or give-up time)
  bool pump();                 // true: done
  void settle(std::vector<ConfirmRange>& confirms);
  bool giveUpNow() const;
  void dropSettledMarks();  // the input thread: forgets the marks of messages now safe

  // ---- Set in the constructor, then read-only (any thread) -------------------------------------
  PublisherConnect connect_;
  ShipperOptions options_;
  // The spool is shared by design: its own lock guards it (spool.hpp: the input thread appends, the
  // sender takes and releases). Whether it is durable decides how the Shipper delivers (durable()).
  std::unique_ptr<Spool> spool_;

  // ---- Shared between threads: atomics, or guarded by failureMu_ ------------------------------
  ShipperMetrics metrics_;              // counters and gauges are atomic
  std::atomic<uint64_t> remaining_{0};  // in the spool after finish()
  mutable std::mutex failureMu_;        // guards firstFailure_: written by the sender, read by report()
  std::string firstFailure_;
  // Sender -> input thread: records of this run confirmed in order without a refusal in between
  // (memory spool); inputOrderBroken_ is set after the last of them was added.
  std::atomic<uint64_t> confirmedInOrder_{0};
  std::atomic<bool> inputOrderBroken_{false};
  std::atomic<bool> abort_{false};         // give up connecting (stop signal or give-up time)
  std::atomic<bool> stopping_{false};      // a stop signal: do not take more, settle what is in flight
  std::atomic<bool> senderDone_{false};    // senderError_ is written before, read after it is set
  std::atomic<int64_t> inputClosedAt_{0};  // steady clock ns; 0 while input is open
  std::atomic<int64_t> lastProgressNs_{0};
  std::exception_ptr senderError_;
  std::thread thread_;

  // ---- Owned by the input thread (ship(), refuse(), flushDue(), settledInput(), finish()) -------
  Record record_;
  Message message_;
  uint64_t unflushedRead_ = 0;  // records read since the last flushBatch (added to metrics_.read then)
  uint64_t nextId_ = 1;
  bool idGiven_ = false;  // nextRecordId(): the next record's id
  std::string_view givenPrefix_;
  uint64_t givenN_ = 0;
  std::string batchIdPrefix_;  // the batch's: its next record must have <batchIdPrefix_>-<batchNextN_>
  uint64_t batchNextN_ = 0;
  BatchBuilder batch_;
  bool batchFromTemplate_ = false;  // the batch's metadata is record_'s
  Record scratch_;                  // the first record of a batch with its own metadata
  Clock::time_point batchStarted_{};
  // settledInput(): input records counted so far; spool records stored by this run; for each message
  // stored (or dropped) since the last check, the stored count and input count at its end.
  struct InputMark {
    uint64_t storedEnd = 0;
    uint64_t inputEnd = 0;
  };
  uint64_t inputSeq_ = 0;
  uint64_t batchInputStart_ = 0;  // inputSeq_ before the batch's first record
  uint64_t storedByRun_ = 0;
  uint64_t settled_ = 0;
  std::deque<InputMark> marks_;
  bool settledFrozen_ = false;  // the broker refused a record (memory spool): settled_ is final, no marks kept
  Clock::time_point lastDropWarning_{};

  // ---- Owned by the sender thread (run() and what it calls) ------------------------------------
  // The publisher: opened by the constructor for a spool that is not durable (before the thread
  // starts), else by the sender.
  std::unique_ptr<Publisher> publisher_;
  std::deque<InFlight> inFlight_;  // publisher sequence numbers inFlightBase_, +1, ...
  uint64_t inFlightBase_ = 0;
  size_t inFlightBytes_ = 0;
  bool orderBroken_ = false;  // a refusal was settled (confirmedInOrder_ stops counting)
  std::vector<Message> taken_;
  std::vector<ConfirmRange> confirms_;
  metrics::HistogramBatch batchSizes_{metrics_.batchRecords};
  RepeatedLines refusedLines_;  // "N record(s) not accepted by the broker": one per nacked message, so in bursts
};

}  // namespace logship
