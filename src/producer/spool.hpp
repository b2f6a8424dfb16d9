#pragma once
// The producer's buffer between its input (the reading thread) and the broker (the sender thread).
//
// MemorySpool holds records in memory only (the default: a record counts as accepted when the
// broker confirmed it). DiskSpool (--spool-dir) appends every record to checksummed segment files
// before append() returns, so a record counts as accepted as soon as it is in the spool: it is
// removed only after the broker confirmed it, and a producer restarted on the same directory sends
// whatever the previous one left, in order. docs/RELIABILITY.md, docs/FORMATS.md ("Producer spool").
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "core/message.hpp"

namespace logship {

struct SpoolLimits {
  size_t maxBytes = 8 * 1024 * 1024;  // what the spool may hold (disk: segment bytes on disk)
  bool dropWhenFull = false;          // false: append() blocks until the sender frees space
};

// Thread-safe: one input thread calls append()/closeInput(); one sender thread calls take(),
// release() and rewind(). Entries are numbered in append order (the spool's sequence numbers).
class Spool {
 public:
  enum class Appended { Stored, Dropped, Closed };

  explicit Spool(SpoolLimits limits) : limits_(limits) {}
  virtual ~Spool() = default;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Input side. Stores `message` (blocks while the spool is full, unless limits.dropWhenFull: then
  // the message is not stored and counted in dropped()). Closed: shutdown() was called, nothing
  // stored. Throws Error when the spool cannot be written (disk full, I/O error).
  // `records`: how many records the message holds (a batch holds several), for held_records().
  Appended append(const Message& message, uint64_t records = 1);
  // No more appends: take() returns 0 at once when nothing is left to take.
  void closeInput();

  // Sender side. Appends to `out` up to `max` entries not taken yet, in order, stopping once their
  // bodies add up to `maxBytes` (at least one is taken); waits up to `wait` for the first one unless
  // the input is closed. Returns how many it took.
  size_t take(std::vector<Message>& out, size_t max, std::chrono::milliseconds wait, size_t maxBytes = SIZE_MAX);
  // The oldest `count` taken and unreleased entries are settled (confirmed, or failed for good):
  // their space is freed; on disk they are gone for good.
  // `records`: how many records those entries held.
  void release(size_t count, uint64_t records);
  // Every taken and unreleased entry becomes untaken again (a new connection sends them again).
  // DiskSpool only: a MemorySpool hands its entries over to the sender (who keeps them until they
  // are confirmed) and throws std::logic_error here.
  void rewind();
  // Wakes and refuses a blocked or later append() (the sender failed, or the program stops).
  void shutdown();

  uint64_t held() const;         // appended (or found on disk at start) and not released
  uint64_t heldRecords() const;  // the records in the held entries
  uint64_t untaken() const;      // held and not taken
  uint64_t dropped() const;      // refused by append() because the spool was full (dropWhenFull)
  bool inputClosed() const;
  size_t bytes() const;
  // The last append found the spool at its limit (it waits for space, or dropped the message), and
  // no append has succeeded since.
  bool full() const;
  const SpoolLimits& limits() const { return limits_; }

  // ---- What the spool promises (the Shipper's behaviour follows from it: docs/RELIABILITY.md) ----
  // True when a stored record is safe: it survives a lost connection and the process, so the
  // sender may reconnect in the background and what is not confirmed stays for the next run
  // (DiskSpool). False when only the broker's confirm makes a record safe (MemorySpool): the first
  // connection is made before any input is read and a lost connection ends the run.
  virtual bool durable() const = 0;
  // Where the records are kept, for messages: the spool directory ("" in memory).
  virtual std::string location() const { return {}; }
  // Records found in the spool at start (left by an earlier run).
  virtual uint64_t recovered() const { return 0; }
  // Keeps a message the broker refused for good (DiskSpool: DIR/refused.log; in memory it is only
  // counted) and says where, for the error line: " (kept in DIR/refused.log)", or "".
  virtual void keepRefused(const Message& /*message*/, const std::string& /*reason*/) {}
  virtual std::string refusedNote() const { return {}; }

 protected:
  // Hooks called with the lock held. storeLocked returns the bytes the entry occupies.
  virtual size_t storeLocked(const Message& message) = 0;
  // The bytes storeLocked will count for `message` (the limit is checked with it).
  virtual size_t sizeOf(const Message& message) const;
  // Appends the next `count` untaken entries (after `taken` entries since the last release point).
  virtual void loadLocked(size_t count, std::vector<Message>& out) = 0;
  // Frees the oldest `count` held entries; returns the bytes freed.
  virtual size_t releaseLocked(size_t count) = 0;
  virtual void rewindLocked() = 0;
  // True when appending `bytes` more would exceed the limit; may first reclaim space.
  virtual bool fullLocked(size_t entryBytes);
  // Called by subclasses that find entries at start.
  void adoptLocked(uint64_t entries, uint64_t records, size_t bytes) {
    held_ = entries;
    heldRecords_ = records;
    bytes_ = bytes;
  }

  SpoolLimits limits_;
  size_t bytes_ = 0;

 private:
  mutable std::mutex mu_;
  std::condition_variable dataCv_;   // take() waits for entries
  std::condition_variable spaceCv_;  // append() waits for space
  uint64_t held_ = 0;
  uint64_t heldRecords_ = 0;
  uint64_t taken_ = 0;  // of the held entries, how many are taken (the oldest ones)
  uint64_t dropped_ = 0;
  bool closed_ = false;
  bool shutdown_ = false;
  bool full_ = false;
};

// Records in memory only.
class MemorySpool final : public Spool {
 public:
  explicit MemorySpool(SpoolLimits limits) : Spool(limits) {}
  bool durable() const override { return false; }

 private:
  size_t storeLocked(const Message& message) override;
  // The memory the message takes (strings' heap blocks and the objects), not its encoded size: a
  // record of 100 bytes in 7 headers takes about 600, and the limit is about memory.
  size_t sizeOf(const Message& message) const override;
  void loadLocked(size_t count, std::vector<Message>& out) override;
  size_t releaseLocked(size_t count) override;
  void rewindLocked() override;

  // Held entries with their sizes; a taken entry's message is moved out to the sender (no second
  // copy of what is in flight), only its size stays until it is released.
  std::deque<std::pair<Message, size_t>> entries_;
  size_t next_ = 0;  // index of the next untaken entry
};

// Records on disk: DIR/<first seq, 20 digits>.seg segment files (append-only, every entry
// checksummed), DIR/cursor (the first unconfirmed sequence number), DIR/lock (one producer per
// directory), DIR/queue (the queue the records are for, claimQueue()), DIR/refused.log (records the broker refused for
// good, one escaped line each). Recent entries are also kept in a bounded memory cache so that a sender that keeps up
// never reads the disk.
class DiskSpool final : public Spool {
 public:
  // Opens (creating if needed) and checks the spool in `dir`: a torn last entry (a crash in the
  // middle of an append) is cut off; a damaged entry elsewhere is reported and its segment's rest
  // skipped. Throws Error when the directory cannot be used or another process holds its lock.
  DiskSpool(const std::string& dir, SpoolLimits limits);
  ~DiskSpool() override;

  const std::string& dir() const { return dir_; }
  bool durable() const override { return true; }
  std::string location() const override { return dir_; }
  uint64_t recovered() const override { return recovered_; }
  uint64_t recoveredEntries() const { return recoveredEntries_; }
  // Ties the spool to the queue its records are for, kept in DIR/queue (the name and a newline).
  // A spool that still holds records for another queue is refused (UsageError naming both queues
  // and what to do): they would go to a queue they were not written for. An empty spool, or one
  // without DIR/queue (from before the file existed: its records are sent to `queue`), takes
  // `queue`. Throws Error when DIR/queue cannot be read or written.
  void claimQueue(const std::string& queue);
  // Keeps a record the broker refused for good in DIR/refused.log (id, reason, escaped text).
  void keepRefused(const Message& message, const std::string& reason) override;
  std::string refusedNote() const override;

  static constexpr uint32_t kEntryMagic = 0x3150534c;  // "LSP1" little-endian
  static constexpr size_t kEntryHeaderBytes = 24;

 private:
  struct Segment {
    uint64_t firstSeq = 0;
    uint64_t entries = 0;
    size_t bytes = 0;
  };
  struct Cached {
    uint64_t seq;
    uint64_t segment;  // firstSeq of its segment
    Message message;
    size_t endOffset;  // where the entry ends in its segment
  };
  std::string segmentPath(uint64_t firstSeq) const;
  void closeAll() noexcept;
  void recover();
  void openWriteSegment(uint64_t firstSeq);
  void writeCursor();
  size_t storeLocked(const Message& message) override;
  void loadLocked(size_t count, std::vector<Message>& out) override;
  size_t releaseLocked(size_t count) override;
  void rewindLocked() override;
  bool fullLocked(size_t entryBytes) override;
  // Reads the entry at the read position into `out` and advances.
  void readNextLocked(Message& out);
  size_t segmentIndexOf(uint64_t seq) const;

  std::string dir_;
  UniqueFd lockFd_;
  UniqueFd writeFd_;
  UniqueFd cursorFd_;
  UniqueFd readFd_;
  uint64_t readSegment_ = UINT64_MAX;  // firstSeq of the segment readFd_ has open
  size_t readOffset_ = 0;
  uint64_t readSeq_ = 0;     // seq of the entry at readOffset_
  size_t segmentBytes_ = 0;  // roll to a new segment past this size
  std::deque<Segment> segments_;
  uint64_t firstHeld_ = 0;  // seq of the oldest held entry (= the cursor)
  uint64_t nextTake_ = 0;   // seq of the next entry to take
  uint64_t nextSeq_ = 0;    // seq of the next entry to append
  uint64_t recovered_ = 0;
  uint64_t recoveredEntries_ = 0;
  std::deque<Cached> cache_;  // the newest entries, consecutive seqs, at most cacheLimit_ bytes
  size_t cacheBytes_ = 0;
  size_t cacheLimit_ = 4 * 1024 * 1024;
  std::string entryBuf_;
  std::string readBuf_;
};

// The spool of ShipperOptions: in memory when `dir` is empty, else a DiskSpool in `dir` tied to
// `queue` (DiskSpool::claimQueue; not checked when empty).
std::unique_ptr<Spool> openSpool(const std::string& dir, SpoolLimits limits, const std::string& queue);

// The spool's binary form of a message (the payload of a segment entry).
void encodeSpoolPayload(const Message& message, std::string& out);
bool decodeSpoolPayload(std::string_view payload, Message& out);
// The records a payload holds (its logship-batch header, else 1), without decoding it.
uint64_t spoolPayloadRecords(std::string_view payload);

}  // namespace logship
