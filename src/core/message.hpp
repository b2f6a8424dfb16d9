#pragma once
// The broker-neutral form of a record on the wire: the message text as the body, metadata as
// string headers. Each broker adapter maps this onto its own transport (AMQP: body + headers table).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.hpp"

namespace logship {

struct Header {
  std::string key;
  std::string value;     // the value when isString; a short description of the value otherwise
  bool isString = true;  // false: the transport carried a non-string value (e.g. an AMQP integer)
};

struct Message {
  std::string body;
  std::vector<Header> headers;
  // The AMQP timestamp property (whole seconds on the wire), 0 for none. Only a delivery sent on
  // again (put back with its delivery count, or dead-lettered) carries one: a plain client's
  // record takes its time from it. Redis has no such property (its deliveries never carry one).
  int64_t timestampUs = 0;
};

namespace wire {
// Envelope version 1 (docs/FORMATS.md). A message without kVersion is a plain record: its body is
// the message text and every other header is ignored, so any client can publish a bare string.
inline constexpr std::string_view kVersion = "logship-version";
inline constexpr std::string_view kTimestamp = "logship-ts";  // decimal microseconds since epoch
inline constexpr std::string_view kLevel = "logship-level";
inline constexpr std::string_view kService = "logship-service";
inline constexpr std::string_view kHost = "logship-host";
inline constexpr std::string_view kFieldPrefix = "logship-field-";
inline constexpr std::string_view kId = "logship-id";
// A batch: the body holds N records' messages, one per line (joined by LF, none containing LF);
// the other headers are those of the first record, shared by all; record i has the id
// "<prefix>-<n + i>" when the first has "<prefix>-<n>", and the timestamp of the record before it
// plus the i-th value of kTsDeltas (microseconds, comma-separated, absent when all are 0).
inline constexpr std::string_view kBatch = "logship-batch";
inline constexpr std::string_view kTsDeltas = "logship-ts-deltas";
inline constexpr uint32_t kMaxBatchRecords = 1'000'000;
// A batch whose body is one zstd frame (log_producer --compress zstd; core/compress.hpp). Only
// batches are compressed; the value names the encoding, "zstd" is the only one.
inline constexpr std::string_view kEncoding = "logship-encoding";
inline constexpr std::string_view kZstd = "zstd";
// The most bytes a compressed body may inflate to: a batch holds at most --batch-bytes (≤ 64 MiB)
// of text and a LF per record. A body declaring more is refused before anything is inflated (a
// "zip bomb"); the inflated bytes take memory only as they come out.
inline constexpr size_t kMaxInflatedBytes = (size_t{64} << 20) + (size_t{1} << 20);
// Set on dead-lettered messages.
inline constexpr std::string_view kDeadReason = "logship-dead-reason";
inline constexpr std::string_view kDeadQueue = "logship-dead-queue";
// How many earlier deliveries of the message ended without its being written (the aggregator
// holding it crashed or lost its connection): decimal, set by the aggregators, read on every
// message, plain ones included (docs/RELIABILITY.md, poison messages).
inline constexpr std::string_view kDeliveries = "logship-deliveries";
// The largest count kDeliveries holds (9 digits); counts saturate there.
inline constexpr uint32_t kMaxDeliveries = 999'999'999;
inline constexpr std::string_view kCurrentVersion = "1";
}  // namespace wire

// The count of the first kDeliveries header: 0 when there is none, or when it is not a string of 1
// to 9 decimal digits (a count nobody could have written starts again from 0).
uint32_t recordedDeliveries(std::span<const Header> headers);

// Replaces every kDeliveries header of `headers` by one holding `count`.
void setRecordedDeliveries(std::vector<Header>& headers, uint32_t count);

// What became of the body of a message over --max-message-bytes, as its dead letter's reason says.
enum class OversizeBody {
  Read,           // read whole, dead-lettered with it
  SkippedUnread,  // RabbitMQ: refused from the size its content header declares, its frames skipped
  KeptInRedis,    // Redis: refused from its size in Redis, moved to the dead list there, body and all
};
// The kDeadReason of a message whose body of `size` bytes is over `limit`: "message of SIZE " and
// tooLargeReasonAfterSize(), which the Redis take script appends to the size it measured itself.
std::string tooLargeReason(uint64_t size, size_t limit, OversizeBody body);
std::string tooLargeReasonAfterSize(size_t limit, OversizeBody body);

// A dead letter as it goes back to its queue (logctl dead requeue): the same body, headers and
// timestamp, without kDeadReason, kDeadQueue and kDeliveries (it starts with no failed delivery).
Message requeuedMessage(const Message& deadLetter);

// Fills `out` (replacing its content) with the wire form of `record`.
void encodeRecord(const Record& record, Message& out);

// Builds one message from consecutive records that share level, service, host and fields (those
// of the first record), with consecutive ids. A record whose message holds a LF cannot be in a
// batch (send it alone with encodeRecord). One record makes exactly encodeRecord's message.
class BodyCompressor;
class BatchBuilder {
 public:
  BatchBuilder();
  ~BatchBuilder();
  BatchBuilder(BatchBuilder&&) noexcept;
  BatchBuilder& operator=(BatchBuilder&&) noexcept;
  // zstd level for the bodies of batches of 2 or more records (logship-encoding: zstd); 0: none.
  void setCompression(int zstdLevel);
  // Starts a new batch with `first` (its metadata is shared by the records added after it).
  void start(const Record& first);
  void add(std::string_view message, int64_t timestampUs);
  size_t records() const { return count_; }
  size_t bodyBytes() const { return body_.size(); }
  // The batch's first record (its metadata is every record's) and the last record's timestamp: a
  // record with other metadata or an earlier timestamp needs a new batch.
  const Record& first() const { return first_; }
  int64_t lastTimestampUs() const { return lastTs_; }
  // Fills `out` (replacing its content) and empties the builder.
  void finish(Message& out);

 private:
  Record first_;
  std::string body_;
  std::string deltas_;
  bool anyDelta_ = false;
  int64_t lastTs_ = 0;
  size_t count_ = 0;
  std::unique_ptr<BodyCompressor> compressor_;
};

// Whether the message says its body is zstd-compressed (a logship-encoding: zstd header).
bool isZstdBatch(const Message& message);

// How many records a message holds: its logship-batch count, else 1.
uint64_t recordCount(const Message& message);

// A record id taken apart. Our producers' ids are "<prefix>-<n>" (n decimal, no leading zero, fits
// 64 bits): then `prefix` and `n` are set and `raw` is empty. Any other non-empty id is `raw`.
// The views point into the id's storage (or a DecodedMessage).
struct RecordIdRef {
  std::string_view prefix;
  uint64_t n = 0;
  std::string_view raw;
  bool empty() const { return prefix.empty() && raw.empty(); }
};

// Splits "<prefix>-<n>" as described above; false (and nothing set) for other ids.
bool splitRecordId(std::string_view id, std::string_view& prefix, uint64_t& n);
// The id as a RecordIdRef (prefix and n when it splits, else raw; empty for "").
RecordIdRef recordIdRef(std::string_view id);
// Appends the id's text ("<prefix>-<n>", or raw).
void appendRecordId(std::string& out, const RecordIdRef& id);

// A received message decoded without copying its records (the aggregator's hot path): the metadata
// its records share, decoded once, and each record's message, timestamp and id as views into the
// message. Same rules and reasons as decodeRecords. Reuse one object for many messages: its
// buffers keep their capacity, so decoding allocates nothing per record.
class DecodedMessage {
 public:
  DecodedMessage() = default;
  DecodedMessage(const DecodedMessage&) = delete;  // the id views point into meta_
  DecodedMessage& operator=(const DecodedMessage&) = delete;

  // False with a one-line reason in `error` (and size() == 0) when the message cannot be decoded.
  // The views stay valid while `body` is alive and unchanged and this object is not decoded again.
  bool decode(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs, std::string& error);

  size_t size() const { return count_; }
  // The bytes of the records' text: the body as decoded (a compressed batch: inflated).
  size_t textBytes() const { return batch_ ? body_.size() : meta_.message.size(); }
  // Level, service, host and fields of every record (message and id: the first record's).
  const Record& metadata() const { return meta_; }
  std::string_view message(size_t i) const {
    return batch_ ? body_.substr(starts_[i], starts_[i + 1] - starts_[i] - 1) : std::string_view(meta_.message);
  }
  int64_t timestampUs(size_t i) const { return batch_ ? timestamps_[i] : meta_.timestampUs; }
  RecordIdRef id(size_t i) const {
    RecordIdRef r = firstId_;
    if (!r.prefix.empty()) r.n += i;
    return r;
  }
  // Record i as a whole (copies).
  Record record(size_t i) const;

 private:
  Record meta_;
  bool batch_ = false;
  size_t count_ = 0;
  std::string_view body_;
  std::vector<size_t> starts_;       // batch: start of line i in body_, then body_.size() + 1
  std::vector<int64_t> timestamps_;  // batch
  RecordIdRef firstId_;              // views into meta_.id
  std::string inflated_;             // the body of a compressed batch, inflated (body_ points into it)
};

// Turns a received message into its records (appended to `out`): a batch gives each of its
// records, any other message one. Returns false with a one-line reason (and appends nothing)
// when the message cannot be decoded (decodeMessage's reasons, or a malformed batch).
bool decodeRecords(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs,
                   std::vector<Record>& out, std::string& error);

// Turns a received message back into a record. Returns false with a one-line reason in `error` when
// the envelope is present but unusable (wrong version, non-string or malformed logship-* header).
// `fallbackTimestampUs` is used for plain messages that carry no logship timestamp.
bool decodeMessage(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs, Record& out,
                   std::string& error);

}  // namespace logship
