#pragma once
// Output rotation: by size and/or at interval boundaries, zstd compression of rotated files in a
// background thread, retention by count and/or age, and reopening the output on request (SIGHUP,
// after an external logrotate). File names and the crash rules: docs/FORMATS.md#rotated-output-files
// and docs/RELIABILITY.md#rotation.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "aggregator/router.hpp"
#include "core/rotated_name.hpp"

namespace logship {

struct RotationOptions {
  uint64_t maxBytes = 0;             // --rotate-bytes: rotate before a write would take the file past this; 0: no
  std::chrono::seconds interval{0};  // --rotate-interval: rotate at multiples of this since the epoch (UTC); 0: no
  bool compress = true;              // --compress zstd (true) | none
  int compressionLevel = 3;          // zstd's default level
  size_t keep = 0;                   // --keep: rotated files kept (the newest); 0: no limit
  std::chrono::seconds maxAge{0};    // --max-age: rotated files deleted this long after their rotation; 0: no limit
  // How often retention runs without a rotation (--max-age expires files while nothing rotates).
  std::chrono::seconds retentionPeriod{60};

  bool rotates() const { return maxBytes > 0 || interval.count() > 0; }
};

// The first multiple of `interval` (since 1970-01-01T00:00:00Z) strictly after `unixSeconds`.
int64_t nextIntervalBoundary(int64_t unixSeconds, std::chrono::seconds interval);

// ---- Retention -------------------------------------------------------------------------------------
struct RotatedFile {
  std::string fileName;
  RotatedName name;
};

// The rotations (a file may exist compressed and uncompressed at once: one rotation) that retention
// deletes: all but the `keep` newest (keep 0: no limit), and those rotated `maxAge` or longer before
// `nowSeconds` (0: no limit). Oldest first.
std::vector<RotatedName> selectExpired(const std::vector<RotatedFile>& files, size_t keep, std::chrono::seconds maxAge,
                                       int64_t nowSeconds);

// The rotated files (and compression temporaries, in `temps`) of output `outputPath` in its
// directory, by name; nothing else is ever listed.
std::vector<RotatedFile> listRotatedFiles(const std::string& outputPath, std::vector<RotatedFile>* temps = nullptr);

// ---- Compression -----------------------------------------------------------------------------------
// Compresses the rotated file `name` (uncompressed) of `outputPath` into NAME...zst: one zstd frame
// with a content checksum (ZSTD_c_checksumFlag) and the content size, written to the hidden
// temporary name, fsynced, renamed to its .zst name, the directory synced; then the uncompressed
// file is unlinked. Keeps the file's mode and modification time. Returns the compressed size.
// Throws Error (the temporary is removed; the uncompressed file stays). A crash at any point
// leaves the uncompressed file, or the complete .zst, or both: never neither.
uint64_t compressRotatedFile(const std::string& outputPath, const RotatedName& name, int level);

// ---- The rotator -----------------------------------------------------------------------------------
struct RotatorStats {
  uint64_t rotations = 0;
  uint64_t reopens = 0;
  uint64_t compressed = 0;  // files compressed (this run, including leftovers of an earlier one)
  uint64_t deleted = 0;     // rotated files deleted by retention
  uint64_t failures = 0;    // rotations, reopens, compressions that failed (logged; retried)
};

// Keeps one output file in shape, at the collector's safe points (betweenCommits: the output is at
// a line boundary, no write of it is in progress); the aggregator has one per output (the default
// one and every route's):
// - reopens the output when asked to (SIGHUP, passed on by the Router): for logrotate's rename + create;
// - rotates it by size (before a write that would take it past maxBytes) and at interval
//   boundaries (when it is not empty), naming the rotated file after the time of the rotation;
// - hands rotated files to a background thread that compresses them (the write path never waits
//   for it) and applies retention after each one, and every retentionPeriod.
// At start it removes compression temporaries of this output left by a crash, and (when rotating
// with compression) compresses the rotated files a crash left uncompressed. finish() (or the
// destructor) waits for the compressions queued, then stops the thread.
class OutputRotator final : public OutputMaintenance {
 public:
  OutputRotator(FileSink& sink, RotationOptions options);
  OutputRotator(const OutputRotator&) = delete;
  OutputRotator& operator=(const OutputRotator&) = delete;
  ~OutputRotator() override;

  void betweenCommits(size_t upcomingBytes, bool reopenRequested) noexcept override;
  void finish();  // compresses what is queued, applies retention, stops the background thread

  // A copy: the background thread updates some of the counts.
  RotatorStats stats() const;

 private:
  void rotate(int64_t now, const char* why);
  void reopen();
  void enqueue(const RotatedName& name);
  void work();
  void compressOne(const RotatedName& name);
  void applyRetention();
  bool rotationFailedRecently() const;

  FileSink& sink_;
  RotationOptions options_;
  std::string outputName_;  // file name of the output, without directory
  int64_t nextBoundary_ = 0;
  std::optional<RotatedName> lastRotation_;  // the newest rotated file's name
  std::chrono::steady_clock::time_point lastRotateFailure_{};
  std::vector<RotatedName> awaitingJournal_;  // rotated, not compressed before the journal names the new file

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<RotatedName> queue_;  // to compress, oldest first
  bool stopping_ = false;
  bool retentionDue_ = false;
  RotatorStats stats_;
  std::thread worker_;
};

}  // namespace logship
