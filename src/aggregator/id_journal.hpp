#pragma once
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "aggregator/id_window.hpp"
#include "core/file.hpp"

namespace logship {

struct IdJournalOptions {
  size_t window = 1'000'000;           // ids remembered (the most recent ones); 0: no deduplication
  bool fsync = false;                  // fdatasync the journal before the output is written (--fsync)
  mode_t fileMode = kDefaultFileMode;  // of the journal when created (the output's --file-mode)
};

// What IdJournal found when it opened (for the start-up log line and the tests).
struct IdJournalRecovery {
  size_t ids = 0;               // ids remembered
  size_t forgotten = 0;         // ids of lines the output does not hold complete (they will be written again)
  off_t cutBytes = 0;           // bytes of an incomplete last line cut off the output
  bool journalDamaged = false;  // the journal ended in a torn or corrupt entry (ignored)
  bool outputChanged = false;   // the output is not the file the last entry describes, which is not found
  bool outputGrew = false;      // the output is longer than the last entry says (another writer?)
  std::string checkedIn;        // the last write was checked in this renamed file (a rotation), or ""
};

// The duplicate-suppression journal of one output file, "<output>.ids" beside it.
//
// Write-ahead: before FileSink writes bytes to the output it appends one entry here naming the
// output file (device, inode), the offsets [start, end) the bytes will occupy, and the id of every
// line with an id among them together with the offset where that line ends. So an id in the journal
// whose line is not complete in the output can only be in the LAST entry: every earlier write either
// succeeded, or failed and was retried, and a retry journals again every line it (re)writes, which
// supersedes the earlier entry for those lines (a later entry for an id wins).
//
// On open, the last entry is checked against the output: if the output is the same file and ends
// before the entry's end, the lines that end past the output's size are forgotten and a fragment of
// a cut line is cut off the output (found by the last '\n' at or after the entry's start, so nothing
// before the entry and no complete line is ever cut). If the output is another file (it was rotated
// or replaced), the last entry cannot be checked and its ids are forgotten: forgetting an id costs a
// possible duplicate, remembering one that is not in the file would lose a record.
//
// Rotation: when the sink switches to a new file (its own rotation, or a reopen after logrotate
// renamed the output) it appends an entry naming the new file (outputReplaced), so a start after a
// normal rotation finds the output it expects. If the process died between the rename and that
// entry, or logrotate renamed the output while the aggregator was down, the last write entry names
// a file that is no longer at the output path: it is looked for among the files of the output's
// directory whose name starts with the output's name (aggregated_logs.txt.20261127T140000Z,
// aggregated_logs.txt.1, ...), and checked there. Only if that file is gone (compressed, deleted)
// are the entry's ids forgotten.
//
// Single writer: the offsets assume only this process appends to the output (one aggregator owns
// one output; over Redis its consumer id says so).
//
// The most recent `window` ids are kept in memory (IdWindow: ranges of consecutive ids). The journal is rewritten
// (temp file + rename) as one snapshot of those ids when it holds more than twice that many, and at
// open when the check forgot something.
class IdJournal {
 public:
  // Reads (or creates) the journal at `path` and checks it against the output `outputPath`, open
  // for writing as `outputFd` (truncating a torn last line). Throws SinkError if a file cannot be
  // read, written or truncated.
  IdJournal(std::string path, const std::string& outputPath, int outputFd, IdJournalOptions options);
  IdJournal(const IdJournal&) = delete;
  IdJournal& operator=(const IdJournal&) = delete;
  ~IdJournal();

  // True if the id was written (or is pending in the current batch).
  bool contains(std::string_view id) const { return contains(recordIdRef(id)); }
  bool contains(const RecordIdRef& id) const {
    return window_.contains(id) || pendingIds_.contains(id) || inOpenRun(id, 1);
  }
  // True if any of a run of ids was (IdWindow::containsAny: `count` consecutive ids from `first`).
  bool containsAny(const RecordIdRef& first, uint64_t count) const {
    return window_.containsAny(first, count) || pendingIds_.containsAny(first, count) || inOpenRun(first, count);
  }

  // A line with this id (not empty) ends at `end` in the sink's pending batch.
  void add(std::string_view id, size_t end) { add(recordIdRef(id), end); }
  void add(const RecordIdRef& id, size_t end);

  // The pending bytes from `from` (a line start) to `batchEnd` are about to be written at output
  // offset `offset` of file (dev, ino): journal them (every pending line ending after `from`).
  // SinkError if the journal cannot be written (the output is then not written either).
  void beforeWrite(dev_t dev, ino_t ino, off_t offset, size_t from, size_t batchEnd);

  // The sink now writes to the file (dev, ino), empty or not, at a line boundary: every line journaled
  // before is whole in the previous file. SinkError if the entry cannot be written (namesOutput()
  // is false until the next write entry, which names the new file too).
  void outputReplaced(dev_t dev, ino_t ino);
  bool namesOutput() const { return namesOutput_; }

  // The whole pending batch is in the output.
  void batchWritten();
  // The pending batch is given up; the lines ending at or before `kept` are in the output, the
  // others are forgotten (they go back to the broker and must be written when redelivered).
  void batchDiscarded(size_t kept);

  const IdJournalRecovery& recovery() const { return recovery_; }
  size_t size() const { return window_.size(); }
  const std::string& path() const { return path_; }

 private:
  struct Line {
    size_t end;       // in the pending batch
    uint32_t offset;  // the id's prefix (or raw id) in pendingText_
    uint32_t size;
    uint64_t n;
    bool split;  // prefix and n, else a raw id
    bool journaled;
  };
  RecordIdRef idOf(const Line& line) const;
  // The end of the run of pending lines from `i`: ids with i's prefix and consecutive numbers (a
  // batch of our producer's records is one run); i + 1 for a raw id.
  size_t runEnd(size_t i) const;
  void rememberNewlyJournaled(size_t first);  // pending_[first...] not journaled yet: now they are
  // Whether any of `count` consecutive ids from `first` is in the open run.
  bool inOpenRun(const RecordIdRef& first, uint64_t count) const;
  void closeOpenRun();  // the open run into pendingIds_ (one insertRun)

  // Checks the last write entry, bytes [start, end), against the file it went to (open for writing
  // as `fd`, `size` bytes, size >= start): cuts a torn last line off; returns the offset up to which
  // the entry's lines are whole.
  uint64_t checkLastWrite(uint64_t start, uint64_t end, int fd, const std::string& filePath, uint64_t size);
  void remember(const RecordIdRef& id) { window_.insert(id); }
  void forget(const std::vector<RecordIdRef>& ids);  // out of the window (and the FIFO)
  void compact();                                    // rewrites the journal as one snapshot of the window
  void appendEntry(const std::string& entry, size_t ids);
  void openForAppend();

  std::string path_;
  IdJournalOptions options_;
  UniqueFd fd_;
  IdWindow window_;  // the most recent ids written
  // The ids of the pending batch (journaled or not), cleared with it: pendingIds_, and the lines
  // pending_[openStart_...] (openCount_ of them, the last ones added), a run of consecutive ids
  // that goes into pendingIds_ at once when a line does not extend it.
  IdWindow pendingIds_{SIZE_MAX};
  size_t openStart_ = 0;
  uint64_t openCount_ = 0;
  std::vector<Line> pending_;
  std::string pendingText_;  // the pending lines' id prefixes (one copy per run of equal ones) and raw ids
  size_t journalIds_ = 0;    // ids in the journal file
  IdJournalRecovery recovery_;
  bool namesOutput_ = true;
  std::optional<std::pair<dev_t, ino_t>> outputIdentity_;  // to name at open (the output is not the last entry's)
};

}  // namespace logship
