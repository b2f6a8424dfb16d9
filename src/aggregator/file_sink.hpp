#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "aggregator/id_journal.hpp"

#include "core/error.hpp"
#include "core/file.hpp"
#include "metrics/metric.hpp"

namespace logship {

// Writing the output failed (disk full, file too large, I/O error, permission). code() is the errno
// (0 if there was none). The lines that were not written stay pending in the sink.
class SinkError : public Error {
 public:
  explicit SinkError(const std::string& what, int code = 0) : Error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// How an output file is opened (--file-mode, --allow-symlink-output).
struct OutputFileOptions {
  mode_t mode = kDefaultFileMode;  // of a file created (the umask applies); an existing file keeps its own
  // Write to the file a symbolic link at the path points to; else such a path is refused (ELOOP).
  bool allowSymlink = false;
};

// Appends whole lines to one output file through an owned descriptor opened with O_APPEND.
//
// Lines are first added to a pending batch (append), then written out (flush). flush() returning
// means the whole batch is in the kernel, so it survives a crash of this process; with `durable`
// it was also fdatasync'ed, so it survives a power loss. A flush that fails keeps the batch and
// remembers how many of its bytes reached the file, so the next flush writes exactly the rest:
// a line cut in the middle by ENOSPC or EFBIG is completed from the byte where it stopped, and no
// line is ever written twice by a retry.
//
// Before retrying, flush() reopens the path when the descriptor may be dead (EIO, EBADF, ESTALE)
// or the path no longer names the file we have open (deleted or renamed, e.g. to free space):
// a line cut in the old file is first completed there if it can be, else rewritten whole in the
// new one.
//
// Single writer: completing a cut line in place assumes nobody else appended to the file since.
// flush() checks that the file still ends where our bytes ended; if another writer appended
// meanwhile, the cut line is rewritten whole after their bytes (its fragment stays in front of
// them) and a warning says so. Lines of several writers never interleave otherwise (O_APPEND).
//
// With enableDedup, every write (and retry) is preceded by an IdJournal entry naming the lines about
// to be written and the file offsets they will end at; those offsets assume the single writer too.
//
// Switching files (rotateTo, reopen) is allowed only at a line boundary (atLineBoundary: no write
// of the pending batch has started and the last one did not fail), so a line is never split
// between two files. The journal is told about the new file (IdJournal::outputReplaced), so that
// the next start checks the right file and does not mistake the switch for a foreign change.
class FileSink {
 public:
  // Opens or creates the output; SinkError if it cannot (or if it is a symbolic link and
  // options.allowSymlink is false).
  explicit FileSink(std::string path, OutputFileOptions options = {});
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink();  // discard()s what is still pending

  // Adds whole lines (each ending in '\n') to the pending batch.
  void append(std::string_view lines);
  // The pending bytes, to append complete lines to in place (same contract as append()).
  std::string& pendingBuffer() { return pending_; }

  // Writes the rest of the pending batch (and fdatasyncs if `durable`); the batch is then done.
  // SinkError leaves it pending for the next flush. If fdatasync fails, whether the lines reached
  // the disk is unknown: the next flush writes the whole batch again (they may then appear twice).
  // If the file was deleted (st_nlink 0) by the time the batch is written, it is created again at
  // the path and the whole batch written to it too (with a warning) before flush returns, so a
  // batch acknowledged after flush never lives only in an unlinked file.
  void flush(bool durable);

  bool hasPending() const { return !pending_.empty(); }
  size_t pendingBytes() const { return pending_.size(); }
  // Bytes at the start of the pending batch that are whole lines in the file.
  size_t completeBytes() const;

  // Gives up the pending batch (its records go back to the broker). If its last line was cut in
  // the middle, the fragment is cut off the file again (ftruncate) when nothing was appended after
  // it, so the file ends with a whole line. Logs what it could not repair.
  void discard() noexcept;

  const std::string& path() const { return path_; }
  // Bytes written to the file (a batch written again after a failed fdatasync counts again).
  // Readable from any thread.
  const metrics::Counter& bytesWritten() const { return bytesWritten_; }

  // True when no byte of the pending batch has been written and the last flush did not fail: the
  // output may be switched to another file now without splitting a line.
  bool atLineBoundary() const { return written_ == 0 && lastError_ == 0; }
  // Size of the file we write to (fstat), -1 if it cannot be known. Its modification time (UTC
  // seconds) likewise.
  off_t fileSize() const;
  int64_t fileModifiedSeconds() const;

  enum class Switch { Done, NameTaken, NotOurFile };
  // Rotation (at a line boundary): renames the output to `rotatedPath` (never replacing an
  // existing file: NameTaken), creates a fresh output at path(), syncs the directory and journals
  // the new file. NotOurFile: path() no longer names the file we write to (renamed by someone
  // else): nothing was done (reopen() is what fits then). SinkError if the rename or the creation
  // fails; the old file is then still the output (renamed back if the creation failed).
  Switch rotateTo(const std::string& rotatedPath);
  // Reopen (SIGHUP, at a line boundary): if path() no longer names the file we write to (logrotate
  // renamed it, or it was deleted), opens (creates) the file now at path() and journals it; true
  // if it did. SinkError if it cannot be opened: the old file stays the output.
  bool reopen();
  // False while the journal does not yet name the current output (its entry failed to be written
  // after a switch); the next journaled write names it.
  bool journalNamesOutput() const;

  // Duplicate suppression: opens "<path>.ids" (IdJournal), which first repairs the output after a
  // crash (cuts a torn last line). Call before anything is appended; a window of 0 does nothing.
  // From then on every flush journals the lines it is about to write, before writing them.
  void enableDedup(IdJournalOptions options);
  IdJournal* journal() { return journal_.get(); }

 private:
  UniqueFd openPath() const;  // invalid with errno set on failure
  [[noreturn]] void failOpen(const char* what, int code) const;
  bool torn() const { return written_ > 0 && pending_[written_ - 1] != '\n'; }
  size_t lineStart() const;  // start in pending_ of the line written_ is in
  [[noreturn]] void fail(int code, bool progressed);
  void prepareRetry();
  void journalAhead();              // IdJournal::beforeWrite for the rest of the pending batch
  void writePending(bool durable);  // the rest of the pending batch into fd_ (flush without the end)
  bool outputDeleted() const;       // the file we have open has no name any more (st_nlink 0)
  void reopenDeleted();             // a new file at the path; the whole batch to be written again
  bool pathNamesOurFile() const;
  void journalNewFile() noexcept;  // IdJournal::outputReplaced for fd_, logged if it fails
  bool finishLine();               // writes the rest of the cut line through fd_; false on error

  std::string path_;
  OutputFileOptions options_;
  UniqueFd fd_;
  std::string pending_;  // whole lines not yet known to be written
  size_t written_ = 0;   // bytes of pending_ in the file
  int lastError_ = 0;    // errno of the failed flush, 0 after a successful one
  off_t tornEnd_ = -1;   // file offset just past a cut line's fragment, -1 if unknown or none
  std::unique_ptr<IdJournal> journal_;
  metrics::Counter bytesWritten_;
};

}  // namespace logship
