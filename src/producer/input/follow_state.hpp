#pragma once
// What a followed file is and where reading it stopped: file identity (device, inode and a
// fingerprint of its first bytes), and the state file (--state-file) that keeps the offsets across
// runs. Format in docs/FORMATS.md ("Follow state file").
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/file.hpp"

namespace logship {

// A file's place on its file system. Two open files with the same FileKey are the same file; a
// file deleted and a new one created later may get the same inode, which the fingerprint tells.
struct FileKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileKey&) const = default;
};

// A 64-bit FNV-1a hash of the first `bytes` bytes of a file: up to kFingerprintBytes, fewer while
// the file is shorter (it grows with the file up to that).
struct Fingerprint {
  static constexpr uint64_t kBytes = 1024;
  uint64_t bytes = 0;
  uint64_t hash = 0xcbf29ce484222325ULL;  // the hash of no bytes
  bool operator==(const Fingerprint&) const = default;
};

uint64_t fnv1a(std::string_view data);
Fingerprint fingerprintOf(std::string_view head);  // of up to kBytes of `head`
// Reads the first min(size, kBytes) bytes of `fd` with pread. nullopt (errno set) on a read error.
std::optional<std::string> readHead(int fd, uint64_t size);

// True if the file whose first bytes are `head` (at least as many as it has, up to kBytes) is the
// file `known` was taken of: it has at least known.bytes bytes and they hash the same.
bool sameContent(const Fingerprint& known, std::string_view head);

// One line of the state file: a file, and the offset up to which its records are safe (the
// broker has them, or the spool) — where a restart resumes.
//
// Record ids (docs/FORMATS.md, "Record ids of followed lines"): the records of a file's content get
// ids "file-<stream>-<line>", `stream` as 16 hex digits (random, chosen when the content is first
// followed: a new file, or a file truncated), `line` the number of the record's first line, counted
// from where the stream began. `line` here is the number of the line at `offset`, so a line read
// again after a crash gets the id it had.
struct FollowEntry {
  FileKey key;
  Fingerprint fingerprint;
  uint64_t offset = 0;
  std::string path;     // where it was last seen (its name when the state was saved)
  uint64_t stream = 0;  // 0: none yet (a version 1 state file): a new one is chosen
  uint64_t line = 1;
  bool operator==(const FollowEntry&) const = default;
};

// Where to start reading a file found at start-up or by a scan (pure logic, unit-tested):
struct StartDecision {
  enum class Why {
    Resumed,      // a state entry for this file: its offset
    Truncated,    // a state entry, but the file is shorter than its offset (copytruncate meanwhile): 0
    InodeReused,  // the entry's inode, other content (a new file): 0
    New,          // no entry: a file that appeared since (or --from-beginning): 0
    AtEnd,        // no state file yet, no --from-beginning (tail -F): the end of its last complete line
  } why;
  uint64_t offset = 0;
};
// `entry`: the state's entry with this file's key, if any. `head`: the file's first bytes;
// `size`: its size. `endOfLastLine`: the offset after its last '\n' (for AtEnd).
// `stateExisted`: a state file was loaded (else this is the first run).
StartDecision decideStart(const FollowEntry* entry, std::string_view head, uint64_t size, uint64_t endOfLastLine,
                          bool stateExisted, bool fromBeginning, bool firstScan);

// A new random stream id (never 0).
uint64_t newStreamId();
// "file-<16 hex digits>": the record id prefix of a stream.
std::string streamPrefix(uint64_t stream);

// The state file's text (version 2; version 1, without STREAM and LINE, is still read).
// parseFollowState throws Error naming `path` and the line.
std::string formatFollowState(const std::vector<FollowEntry>& entries);
std::vector<FollowEntry> parseFollowState(std::string_view text, const std::string& path);

// The state file on disk: locked against a second producer (flock on PATH.lock, held while this
// object lives), loaded once, saved atomically (replaceFile: a temporary beside it written,
// fsynced, renamed over PATH, the directory fsynced).
class FollowStateFile {
 public:
  // Creates the directory if missing, takes the lock and loads the file (absent: no entries,
  // existed() false). Throws Error: in use by another producer, unreadable, or damaged (naming the
  // file and line).
  explicit FollowStateFile(std::string path);
  FollowStateFile(const FollowStateFile&) = delete;
  FollowStateFile& operator=(const FollowStateFile&) = delete;

  const std::string& path() const { return path_; }
  bool existed() const { return existed_; }
  const std::vector<FollowEntry>& loaded() const { return loaded_; }
  // Throws Error when the file cannot be written (the previous one stays in place).
  void save(const std::vector<FollowEntry>& entries);

 private:
  std::string path_;
  UniqueFd lock_;  // held (flock) while this object lives
  bool existed_ = false;
  std::vector<FollowEntry> loaded_;
};

}  // namespace logship
