#pragma once
// The client library's queue between the application's threads (Client::log) and its background
// thread, which hands the records on to the Shipper.
//
// A mutex-protected swap buffer rather than a lock-free ring: a caller holds the lock only to check
// the limits and move one record (a few pointers) onto the end of a vector whose capacity is reused,
// and the background thread takes everything queued at once by swapping that vector with its own
// (empty, same capacity), so neither side allocates or copies text under the lock, and the lock is
// taken once per call on one side and once per bulk on the other. A lock-free MPSC ring would
// need fixed-size slots (records are of any size) or a node per record, and could not block a
// caller (OverflowPolicy::Block) without a lock anyway.
//
// The limits count what the queue holds: records queued plus records the background thread took
// and has not handed on yet (release()), so memory stays bounded while the Shipper is busy or not
// connected.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/record.hpp"

namespace logship {

// One record as the caller gave it, owning its text (the caller's views end with log()).
struct QueuedRecord {
  int64_t timestampUs = 0;
  Level level = Level::Info;
  std::string service;  // empty: the client's
  std::string message;
  std::vector<Field> fields;  // the record's own, after the client's
  size_t bytes = 0;           // what it counts against the byte limit (its text)
};

class RecordQueue {
 public:
  struct Limits {
    size_t records = 100'000;
    size_t bytes = 16 * 1024 * 1024;
    bool block = false;  // a full queue: wait for room (else refuse)
  };
  enum class Pushed { Queued, Full, Closed };

  explicit RecordQueue(Limits limits) : limits_(limits) {}

  // Any thread. Queues `record` if it fits (a record alone in an empty queue always fits); a full
  // queue refuses it or, with Limits::block, waits for room. Counted in accepted() or refused().
  Pushed push(QueuedRecord&& record);
  // From now on push() refuses (and wakes the pushers waiting for room).
  void close();

  // The background thread. Moves every queued record to the end of `out`, waiting up to `wait` for
  // one unless wake() was called. Returns how many it moved.
  size_t takeAll(std::vector<QueuedRecord>& out, std::chrono::milliseconds wait);
  // The background thread handed on `records` records of `bytes` bytes that it took: their room is
  // free again.
  void release(size_t records, size_t bytes);
  // Makes the current or next takeAll() return at once.
  void wake();

  uint64_t accepted() const;   // pushes that queued their record
  uint64_t refused() const;    // pushes refused: full (without block) or closed
  size_t queued() const;       // queued, not taken
  size_t heldRecords() const;  // queued, or taken and not released
  size_t heldBytes() const;

 private:
  Limits limits_;
  mutable std::mutex mu_;
  std::condition_variable dataCv_;   // takeAll waits for records
  std::condition_variable spaceCv_;  // a blocking push waits for room
  std::vector<QueuedRecord> queued_;
  size_t heldRecords_ = 0;
  size_t heldBytes_ = 0;
  uint64_t accepted_ = 0;
  uint64_t refused_ = 0;
  bool closed_ = false;
  bool woken_ = false;
  bool takerWaiting_ = false;
};

}  // namespace logship
