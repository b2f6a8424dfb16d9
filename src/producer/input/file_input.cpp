#include "producer/input/file_input.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"
#include "producer/line_buffer.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

constexpr size_t kLinesPerRead = 65536;       // per read() call, over all files: the loop stays responsive
constexpr size_t kInitialBuffer = 64 * 1024;  // per file; grows for longer lines
constexpr uint64_t kTailLook = 64 * 1024;     // how far back the start at a file's end looks for a '\n'
// A long read (a burst, or a slow broker) marks its progress every so many lines, and saves the
// checkpoint when it is due, instead of only once it has read everything.
constexpr size_t kMarkEveryLines = 1024;

bool hasGlobChars(const std::string& pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

// Rotated and compressed siblings a glob like app.log* also matches: never text to follow.
bool compressedName(std::string_view name) {
  for (std::string_view ext : {".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"}) {
    if (name.ends_with(ext)) return true;
  }
  return false;
}

FileKey keyOf(const struct stat& st) { return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)}; }

// The offset after the last '\n' of the file (where tail -F starts), looking back at most kTailLook.
uint64_t endOfLastLine(int fd, uint64_t size) {
  if (size == 0) return 0;
  const uint64_t from = size > kTailLook ? size - kTailLook : 0;
  std::string tail(size - from, '\0');
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(fd, tail.data() + got, tail.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  const size_t nl = std::string_view(tail.data(), got).rfind('\n');
  if (nl != std::string_view::npos) return from + nl + 1;
  return from == 0 ? 0 : size;  // a partial first line: read it once it is complete
}

}  // namespace

struct FileInput::Seen {
  std::string path;
  struct stat st {};
};

struct FileInput::File {
  uint64_t number = 0;
  FileKey key;
  Fingerprint fingerprint;
  std::string path;             // where it is now, as far as the last scan knows
  Record source;                // the template with file=<the path it was first followed under>
  uint64_t generation = 0;      // bumped when it is truncated: older marks no longer apply
  uint64_t checkpoint = 0;      // everything before it is settled: a restart resumes here
  uint64_t checkpointLine = 1;  // the number of the line at `checkpoint`
  uint64_t stream = 0;          // the record id prefix of its content (follow_state.hpp)
  std::string idPrefix;         // streamPrefix(stream)
  UniqueFd fd;
  bool rotated = false;    // its path no longer leads to it: read to its end, then close
  bool more = false;       // it had more to read than the last read's budget
  uint64_t readPos = 0;    // offset of the next byte read() returns
  uint64_t lineStart = 0;  // offset where the next line starts (before a partial line)
  uint64_t nextLine = 1;   // the number of the line at lineStart
  uint64_t size = 0;       // at the last look
  Clock::time_point lastGrowth{};
  std::unique_ptr<LineBuffer> buffer;
  std::unique_ptr<LineJoiner> joiner;
  uint64_t closedAt = 0;    // once closed: the offset it was read up to
  uint64_t closedLine = 1;  // and the number of the line there

  bool open() const { return fd.valid(); }
  void close() {
    fd.reset();
    buffer.reset();
    joiner.reset();
  }
  // Where a restart must resume for nothing handed over so far to be read again: the start of the
  // record still pending (multiline), else the start of the partial line; with its line number.
  LineTag safePosition() const {
    if (!open()) return {closedAt, closedLine};
    return joiner->pending() ? joiner->pendingTag() : LineTag{lineStart, nextLine};
  }
  void startStream(uint64_t id, uint64_t line) {
    stream = id != 0 ? id : newStreamId();
    idPrefix = streamPrefix(stream);
    checkpointLine = nextLine = line;
  }
};

FileInput::FileInput(FileInputOptions options, LineFormat& format, const Record& recordTemplate, FollowMetrics& metrics)
    : options_(std::move(options)),
      format_(format),
      template_(recordTemplate),
      metrics_(metrics),
      state_(options_.stateFile) {
  if (options_.patterns.empty()) throw UsageError("--follow needs at least one file or glob pattern");
  options_.multiline.maxBytes = options_.maxLineBytes;
  unmatched_ = state_.loaded();
  const auto now = Clock::now();
  scan(nullptr, now, true);
  nextScan_ = now + options_.pollInterval;
  // The start positions are saved at once: a crash before the first checkpoint then resumes there
  // (at the first start, files are followed from their end: a restart must not jump to a later end).
  saved_ = entries();
  state_.save(saved_);
  newStreams_ = false;
  nextSave_ = now + options_.saveInterval;
}

FileInput::~FileInput() = default;

// ---- looking at the files -----------------------------------------------------------------------

std::vector<FileInput::Seen> FileInput::lookAtPatterns() {
  std::vector<Seen> seen;
  std::set<std::pair<uint64_t, uint64_t>> keys;
  auto add = [&](const std::string& path, const struct stat& st) {
    const FileKey key = keyOf(st);
    if (!keys.insert({key.dev, key.ino}).second) return;  // the same file twice (two patterns, a link): once
    seen.push_back({path, st});
  };
  auto warnOnce = [&](const std::string& what, const std::string& message) {
    if (warned_.insert(what).second) spdlog::warn("{}", message);
  };
  for (const auto& pattern : options_.patterns) {
    if (hasGlobChars(pattern)) {
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
      if (rc == GLOB_NOMATCH) {
        warnOnce("nomatch " + pattern, fmt::format("--follow '{}' matches no file yet: its files are followed from "
                                                   "their beginning as they appear",
                                                   escaped(pattern)));
      } else if (rc != 0) {
        warnOnce("globerr " + pattern,
                 fmt::format("--follow '{}': cannot list the matching files ({})", escaped(pattern),
                             rc == GLOB_NOSPACE ? "out of memory" : "read error"));
      } else {
        warned_.insert("nomatch " + pattern);  // matched once: later silences are rotations
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          const std::string path = g.gl_pathv[i];
          struct stat st {};
          if (compressedName(path) || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
          add(path, st);
        }
      }
      globfree(&g);
      continue;
    }
    struct stat st {};
    if (::stat(pattern.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        warnOnce("missing " + pattern, fmt::format("--follow {}: no such file yet: it is followed from its beginning "
                                                   "once it appears",
                                                   escaped(pattern)));
      } else {
        warnOnce("staterr " + pattern, fmt::format("--follow {}: {}", escaped(pattern), std::strerror(errno)));
      }
      continue;
    }
    warned_.insert("missing " + pattern);  // seen once: a later absence is a rotation, reported as such
    if (!S_ISREG(st.st_mode)) {
      warnOnce("notreg " + pattern, fmt::format("--follow {}: not a regular file: not followed", escaped(pattern)));
      continue;
    }
    add(pattern, st);
  }
  return seen;
}

void FileInput::scan(Shipper* shipper, Clock::time_point now, bool firstScan) {
  const std::vector<Seen> seen = lookAtPatterns();
  std::map<std::pair<uint64_t, uint64_t>, const Seen*> byKey;
  for (const auto& s : seen)
    byKey.emplace(std::pair(static_cast<uint64_t>(s.st.st_dev), static_cast<uint64_t>(s.st.st_ino)), &s);
  std::set<std::pair<uint64_t, uint64_t>> followed;
  for (auto& [number, f] : files_) {
    if (!f->open()) continue;
    const auto at = byKey.find({f->key.dev, f->key.ino});
    checkFollowed(shipper, *f, at == byKey.end() ? nullptr : at->second, now);
    if (f->open()) followed.insert({f->key.dev, f->key.ino});
  }
  if (firstScan) {
    // The state's files that no pattern gives any more were rotated while the producer was stopped:
    // looked for first, so that the rest of each is read before the file that replaced it.
    std::erase_if(unmatched_, [&](const FollowEntry& e) {
      if (byKey.contains({e.key.dev, e.key.ino})) return false;
      resumeRotatedFromState(e, now);
      return true;
    });
  }
  for (const auto& s : seen) {
    if (!followed.contains({static_cast<uint64_t>(s.st.st_dev), static_cast<uint64_t>(s.st.st_ino)})) {
      openFile(s, firstScan, now);
    }
  }
  unmatched_.clear();  // the others were matched (or are files no pattern follows now)
  metrics_.filesOpen.set(
      static_cast<double>(std::count_if(files_.begin(), files_.end(), [](const auto& e) { return e.second->open(); })));
}

void FileInput::checkFollowed(Shipper* shipper, File& f, const Seen* at, Clock::time_point now) {
  if (at != nullptr) {
    if (at->path != f.path) {
      spdlog::info("{} is now {}: following it there", escaped(f.path), escaped(at->path));
      f.path = at->path;
    }
    f.rotated = false;
  } else if (!f.rotated) {
    // Renamed away (logrotate's rename + create) or deleted: what the writer wrote to it before is
    // read first, then the new file at the path (a scan opens it after this).
    f.rotated = true;
    f.lastGrowth = now;
    metrics_.rotations.inc();
    spdlog::info("{} was renamed or deleted: reading it to its end before the file now at its path", escaped(f.path));
    if (shipper != nullptr) {
      size_t unlimited = SIZE_MAX;
      readFile(*shipper, f, unlimited, now);
      if (!f.open()) return;
    }
  }
  struct stat st {};
  if (::fstat(f.fd.get(), &st) != 0) {
    failFile(shipper, f, fmt::format("cannot look at it: {}", std::strerror(errno)));
    return;
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < f.readPos) {
    truncated(shipper, f, now);
    return;
  }
  // Truncated and written again up to or past our offset between two looks (copytruncate under
  // load): its first bytes changed. Looked at every time (one pread of at most 1 KiB). While the
  // file is short, the fingerprint grows with it.
  const auto head = readHead(f.fd.get(), size);
  if (!head) {
    failFile(shipper, f, fmt::format("cannot read it: {}", std::strerror(errno)));
    return;
  }
  if (!sameContent(f.fingerprint, *head)) {
    truncated(shipper, f, now);
    return;
  }
  if (f.fingerprint.bytes < Fingerprint::kBytes && head->size() > f.fingerprint.bytes) {
    f.fingerprint = fingerprintOf(*head);
  }
  if (size != f.size) f.lastGrowth = now;
  f.size = size;
}

void FileInput::openFile(const Seen& s, bool firstScan, Clock::time_point now) {
  const FileKey key = keyOf(s.st);
  const auto failedAt = failed_.find({key.dev, key.ino});
  if (failedAt != failed_.end()) {
    if (failedAt->second == static_cast<int64_t>(s.st.st_ctime)) return;  // unchanged: still unreadable
    failed_.erase(failedAt);  // its permissions (or content) changed: try again
  }
  UniqueFd fd = logship::openFile(s.path, O_RDONLY | O_NONBLOCK, 0, true);
  if (!fd.valid()) {
    if (errno == ENOENT) return;  // gone since the scan: the next one sees what replaced it
    spdlog::error("{}: not followed (tried again when its permissions change)",
                  errnoMessage("cannot open", s.path, errno));
    failed_[{key.dev, key.ino}] = s.st.st_ctime;
    return;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || keyOf(st) != key) return;  // replaced since the scan: the next one sees it
  const auto size = static_cast<uint64_t>(st.st_size);
  const auto head = readHead(fd.get(), size);
  if (!head) {
    spdlog::error("{}: not followed (tried again when its permissions change)",
                  errnoMessage("cannot read", s.path, errno));
    failed_[{key.dev, key.ino}] = st.st_ctime;
    return;
  }

  // A file this run closed earlier (renamed out of the patterns, then back) and not yet forgotten:
  // it goes on where it was closed.
  for (auto& [number, f] : files_) {
    if (!f->open() && f->key == key && sameContent(f->fingerprint, *head) && size >= f->closedAt) {
      attach(*f, std::move(fd), s.path, size, {f->closedAt, f->closedLine}, now);
      spdlog::info("following {} again from offset {}", escaped(s.path), f->closedAt);
      return;
    }
  }

  auto entryAt = std::find_if(unmatched_.begin(), unmatched_.end(), [&](const FollowEntry& e) { return e.key == key; });
  const FollowEntry* entry = entryAt != unmatched_.end() ? &*entryAt : nullptr;
  const bool atEnd = entry == nullptr && firstScan && !state_.existed() && !options_.fromBeginning;
  const StartDecision start = decideStart(entry, *head, size, atEnd ? endOfLastLine(fd.get(), size) : 0,
                                          state_.existed(), options_.fromBeginning, firstScan);
  const uint64_t saved = entry != nullptr ? entry->offset : 0;
  const std::optional<FollowEntry> kept = entry != nullptr ? std::optional(*entry) : std::nullopt;
  if (entry != nullptr) unmatched_.erase(entryAt);
  entry = kept ? &*kept : nullptr;

  auto f = std::make_unique<File>();
  f->number = nextNumber_++;
  f->fingerprint = fingerprintOf(*head);
  f->key = key;
  f->source = sourceFor(s.path);
  f->checkpoint = start.offset;
  const bool resumed = start.why == StartDecision::Why::Resumed;
  f->startStream(resumed ? entry->stream : 0, resumed ? entry->line : 1);
  newStreams_ = newStreams_ || f->stream != (resumed ? entry->stream : 0);
  attach(*f, std::move(fd), s.path, size, {start.offset, f->nextLine}, now);
  const std::string path = escaped(s.path);
  switch (start.why) {
    case StartDecision::Why::Resumed:
      spdlog::info("following {} from offset {} (state file)", path, start.offset);
      break;
    case StartDecision::Why::Truncated:
      spdlog::warn(
          "{} was truncated while log_producer was stopped (it no longer holds the {} bytes read before): "
          "following it from its beginning",
          path, saved);
      break;
    case StartDecision::Why::InodeReused:
      spdlog::info("{} is a new file on the inode of one the state file names: following it from its beginning", path);
      break;
    case StartDecision::Why::New: spdlog::info("following {} from its beginning", path); break;
    case StartDecision::Why::AtEnd:
      spdlog::info("following {} from its end (offset {}; --from-beginning reads the files there at the first start)",
                   path, start.offset);
      break;
  }
  files_.emplace(f->number, std::move(f));
}

void FileInput::attach(File& f, UniqueFd fd, const std::string& path, uint64_t size, LineTag at,
                       Clock::time_point now) {
  const uint64_t offset = at.offset;
  f.nextLine = at.line;
  f.fd = std::move(fd);
  f.path = path;
  f.rotated = false;
  f.more = false;
  f.readPos = f.lineStart = offset;
  f.size = size;
  f.lastGrowth = now;
  f.buffer = std::make_unique<LineBuffer>(options_.maxLineBytes, kInitialBuffer);
  f.joiner = std::make_unique<LineJoiner>(options_.multiline);
  if (::lseek(f.fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    failFile(nullptr, f, fmt::format("cannot seek to offset {}: {}", offset, std::strerror(errno)));
  }
}

Record FileInput::sourceFor(const std::string& path) const {
  Record source = template_;
  auto field = std::find_if(source.fields.begin(), source.fields.end(), [](const Field& x) { return x.key == "file"; });
  if (field != source.fields.end()) {
    field->value = path;  // a --field file=... is replaced: the records say which file they come from
  } else {
    source.fields.push_back({"file", path});
  }
  return source;
}

namespace {

// A file beside a followed one (same directory, a name starting with its name: app.log.1,
// app.log-20261127), open for reading, holding the followed file's first bytes and at least
// `minSize` bytes.
struct Sibling {
  std::string path;
  UniqueFd fd;
  struct stat st {};
};

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// The first sibling of `path` (itself excluded) for which want(stat) is true and whose content
// starts as `fingerprint` says, with at least `minSize` bytes. `itself`: set when `path`'s own name
// passed want() (the file was not rotated).
std::optional<Sibling> findSibling(const std::string& path, const Fingerprint& fingerprint, uint64_t minSize,
                                   const std::function<bool(const struct stat&)>& want, bool* itself = nullptr) {
  const std::filesystem::path old(path);
  const std::string dir = old.parent_path().empty() ? std::string(".") : old.parent_path().string();
  const std::string base = old.filename().string();
  const std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return std::nullopt;
  std::optional<Sibling> found;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (!name.starts_with(base) || compressedName(name)) continue;
    Sibling s{fmt::format("{}/{}", dir, name), {}, {}};
    if (::stat(s.path.c_str(), &s.st) != 0 || !S_ISREG(s.st.st_mode) || !want(s.st)) continue;
    if (name == base) {
      if (itself == nullptr) continue;
      *itself = true;
      break;
    }
    s.fd = openFile(s.path, O_RDONLY | O_NONBLOCK, 0, true);
    if (!s.fd.valid()) continue;
    const auto head = ::fstat(s.fd.get(), &s.st) == 0 && want(s.st)
                          ? readHead(s.fd.get(), static_cast<uint64_t>(s.st.st_size))
                          : std::nullopt;
    if (head && sameContent(fingerprint, *head) && static_cast<uint64_t>(s.st.st_size) >= minSize) {
      found = std::move(s);
      break;
    }
  }
  return found;
}

}  // namespace

void FileInput::resumeRotatedFromState(const FollowEntry& entry, Clock::time_point now) {
  // The file the last run followed is no longer at any path the patterns match: renamed by a
  // rotation while the producer was stopped. Looked for beside its old path, by inode and content,
  // and read from the saved offset to its end.
  bool itself = false;
  auto s = findSibling(
      entry.path, entry.fingerprint, entry.offset, [&](const struct stat& st) { return keyOf(st) == entry.key; },
      &itself);
  if (itself) {
    spdlog::info("{} is no longer matched by --follow: forgotten", escaped(entry.path));
    return;
  }
  if (!s) {
    spdlog::warn(
        "{} (inode {}), read up to offset {} by the last run, is gone and is not beside it under another "
        "name: whatever was written to it after that offset was not shipped",
        escaped(entry.path), entry.key.ino, entry.offset);
    return;
  }
  auto f = std::make_unique<File>();
  f->number = nextNumber_++;
  f->key = entry.key;
  f->fingerprint = entry.fingerprint;
  f->source = sourceFor(entry.path);
  f->checkpoint = entry.offset;
  f->startStream(entry.stream, entry.line);
  newStreams_ = newStreams_ || entry.stream == 0;
  attach(*f, std::move(s->fd), s->path, static_cast<uint64_t>(s->st.st_size), {entry.offset, entry.line}, now);
  f->rotated = true;
  spdlog::info("{} was renamed to {} while log_producer was stopped: reading it from offset {} to its end",
               escaped(entry.path), escaped(s->path), entry.offset);
  files_.emplace(f->number, std::move(f));
}

bool FileInput::readRotatedCopy(Shipper& shipper, File& f, Clock::time_point now) {
  // logrotate's copytruncate copied the file (a new inode beside it with the same first bytes:
  // app.log.1, app.log-20261127) before it truncated it: what was not read yet is read there, from
  // where reading stopped, as the same stream (same record ids), then the copy is closed.
  auto s = findSibling(f.path, f.fingerprint, f.lineStart, [&](const struct stat& st) { return keyOf(st) != f.key; });
  if (!s) return false;
  auto c = std::make_unique<File>();
  c->number = nextNumber_++;
  c->key = keyOf(s->st);
  c->fingerprint = f.fingerprint;
  c->source = f.source;
  c->stream = f.stream;
  c->idPrefix = f.idPrefix;
  const LineTag safe = f.safePosition();
  c->checkpoint = safe.offset;
  c->checkpointLine = safe.line;
  const auto copySize = static_cast<uint64_t>(s->st.st_size);
  attach(*c, std::move(s->fd), s->path, copySize, {f.lineStart, f.nextLine}, now);
  if (!c->open()) return false;
  // Kept under the followed path, as a renamed file is: a restart looks for it beside that path.
  c->path = f.path;
  c->joiner = std::move(f.joiner);  // a pending multiline record goes on in the copy
  c->rotated = true;
  // Bytes seen in the file at the last look that neither the reads nor the copy hold: written after
  // logrotate's copy, before its truncation.
  const uint64_t lost = f.size > std::max(copySize, f.readPos) ? f.size - std::max(copySize, f.readPos) : 0;
  spdlog::warn(
      "{} was truncated (copytruncate): its last {} unread bytes are read from its copy {}; what was written "
      "between logrotate's copy and its truncation is lost ({} bytes seen{})",
      escaped(f.path), copySize - std::min(copySize, f.lineStart), escaped(s->path), lost,
      lost == 0 ? "; more may have been written since the last look" : "");
  File& copy = *c;
  files_.emplace(c->number, std::move(c));
  size_t unlimited = SIZE_MAX;
  readFile(shipper, copy, unlimited, now);
  if (copy.open()) closeFile(shipper, copy);
  return true;
}

// ---- reading ------------------------------------------------------------------------------------

void FileInput::shipRecord(Shipper& shipper, File& f, std::string_view text) {
  // Its id is where it was read: the file's stream and the number of its first line.
  shipper.nextRecordId(f.idPrefix, f.joiner->doneTag().line);
  format_.ship(shipper, text, f.source);
  if (f.joiner && f.joiner->splits() > 0) {
    // A record cut at --multiline-max-lines or --max-message-bytes: said every 10 s at most.
    splits_ += f.joiner->takeSplits();
    const auto now = Clock::now();
    if (now - lastSplitWarning_ >= std::chrono::seconds(10)) {
      spdlog::warn(
          "{}: a multiline record reached --multiline-max-lines {} or --max-message-bytes {}: it was shipped "
          "as it was, and the line after it starts the next record ({} so far)",
          escaped(f.path), options_.multiline.maxLines, options_.multiline.maxBytes, splits_);
      lastSplitWarning_ = now;
    }
  }
}

void FileInput::mark(Shipper& shipper, File& f) {
  const LineTag at = f.safePosition();
  marks_.add(shipper.handedOver(), f.number, f.generation, at.offset, at.line);
}

bool FileInput::readFile(Shipper& shipper, File& f, size_t& budget, Clock::time_point now) {
  f.more = false;
  std::string_view line;
  size_t skipped = 0;
  for (;;) {
    if (budget == 0) {
      f.more = more_ = true;
      mark(shipper, f);
      return false;
    }
    const LineTag at{f.lineStart, f.nextLine};
    const uint64_t lineOffset = at.offset;
    const LineBuffer::Result r = f.buffer->next(line, skipped);
    if (r != LineBuffer::Result::NeedMore && --budget % kMarkEveryLines == 0) markAndSaveIfDue(shipper, f);
    if (r == LineBuffer::Result::Line) {
      f.lineStart += f.buffer->lastBytes();
      ++f.nextLine;
      if (auto record = f.joiner->push(line, at, now)) shipRecord(shipper, f, *record);
      continue;
    }
    if (r == LineBuffer::Result::TooLong) {
      f.lineStart += f.buffer->lastBytes();
      ++f.nextLine;
      if (auto record = f.joiner->flush()) shipRecord(shipper, f, *record);
      shipper.refuse();
      spdlog::error("{}: the line at offset {} refused: {} bytes is over the limit of {} bytes (--max-message-bytes)",
                    escaped(f.path), lineOffset, skipped, options_.maxLineBytes);
      continue;
    }
    const ssize_t n = f.buffer->readFrom(f.fd.get());
    if (n < 0) {
      failFile(&shipper, f, fmt::format("cannot read it: {}", std::strerror(errno)));
      return true;
    }
    if (n == 0) break;
    f.readPos += static_cast<uint64_t>(n);
    f.lastGrowth = now;
  }
  mark(shipper, f);
  return true;
}

void FileInput::truncated(Shipper* shipper, File& f, Clock::time_point now) {
  metrics_.rotations.inc();
  spdlog::info("{} was truncated (copytruncate): following it from its beginning", escaped(f.path));
  if (shipper != nullptr && !readRotatedCopy(*shipper, f, now)) {
    spdlog::warn(
        "{} was truncated and no copy of it (beside it, with its first bytes and at least {} bytes) was "
        "found: whatever was written to it after offset {} is lost ({} bytes seen)",
        escaped(f.path), f.lineStart, f.readPos, f.size > f.readPos ? f.size - f.readPos : 0);
    // What we hold of the old content is shipped: a last line the writer had not finished (the rest
    // of it went to the copy), and a pending multiline record.
    std::string_view line;
    size_t skipped = 0;
    const LineBuffer::Result r = f.buffer->rest(line, skipped);
    if (r == LineBuffer::Result::Line) {
      if (auto record = f.joiner->push(line, {f.lineStart, f.nextLine}, now)) shipRecord(*shipper, f, *record);
    } else if (r == LineBuffer::Result::TooLong) {
      if (auto record = f.joiner->flush()) shipRecord(*shipper, f, *record);
      shipper->refuse();
    }
    if (auto record = f.joiner->flush()) shipRecord(*shipper, f, *record);
  }
  f.buffer->clear();
  f.joiner = std::make_unique<LineJoiner>(options_.multiline);
  ++f.generation;  // marks of the old content no longer apply
  f.checkpoint = f.readPos = f.lineStart = 0;
  f.startStream(0, 1);  // new content: new record ids, saved before any of its records is shipped
  newStreams_ = true;
  f.lastGrowth = now;
  if (::lseek(f.fd.get(), 0, SEEK_SET) < 0) {
    failFile(shipper, f, fmt::format("cannot seek: {}", std::strerror(errno)));
    return;
  }
  struct stat st {};
  f.size = ::fstat(f.fd.get(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const auto head = readHead(f.fd.get(), f.size);
  f.fingerprint = head ? fingerprintOf(*head) : Fingerprint{};
}

void FileInput::closeFile(Shipper& shipper, File& f) {
  // The writer moved on long ago: a last line without '\n' is complete as it is.
  std::string_view line;
  size_t skipped = 0;
  const LineTag at{f.lineStart, f.nextLine};
  const uint64_t lineOffset = at.offset;
  const LineBuffer::Result r = f.buffer->rest(line, skipped);
  if (r == LineBuffer::Result::Line) {
    f.lineStart += f.buffer->lastBytes();
    ++f.nextLine;
    if (auto record = f.joiner->push(line, at, Clock::now())) shipRecord(shipper, f, *record);
  } else if (r == LineBuffer::Result::TooLong) {
    f.lineStart += f.buffer->lastBytes();
    ++f.nextLine;
    if (auto record = f.joiner->flush()) shipRecord(shipper, f, *record);
    shipper.refuse();
    spdlog::error("{}: the line at offset {} refused: {} bytes is over the limit of {} bytes (--max-message-bytes)",
                  escaped(f.path), lineOffset, skipped, options_.maxLineBytes);
  }
  if (auto record = f.joiner->flush()) shipRecord(shipper, f, *record);
  f.closedAt = f.lineStart;
  f.closedLine = f.nextLine;
  mark(shipper, f);
  spdlog::info("{} (renamed or deleted) read to its end, {} bytes: closed", escaped(f.path), f.closedAt);
  f.close();
}

void FileInput::failFile(Shipper* shipper, File& f, const std::string& why) {
  spdlog::error("{}: {}: no longer followed (tried again when its permissions change)", escaped(f.path), why);
  if (shipper != nullptr) {
    if (auto record = f.joiner->flush()) shipRecord(*shipper, f, *record);
  }
  struct stat st {};
  failed_[{f.key.dev, f.key.ino}] = ::fstat(f.fd.get(), &st) == 0 ? static_cast<int64_t>(st.st_ctime) : 0;
  const LineTag at = f.safePosition();
  f.closedAt = at.offset;
  f.closedLine = at.line;
  if (shipper != nullptr) mark(*shipper, f);
  f.close();
}

bool FileInput::read(Shipper& shipper) {
  const auto now = Clock::now();
  const bool scanned = now >= nextScan_;
  if (scanned) {
    scan(&shipper, now, false);
    nextScan_ = now + options_.pollInterval;
    // A file's new stream (a new file, a truncated one) is saved before any of its records is
    // shipped: a crash then cannot give its lines other ids on the restart.
    if (std::exchange(newStreams_, false)) checkpoint(shipper, false);
  }
  more_ = false;
  size_t budget = kLinesPerRead;
  for (auto& [number, f] : files_) {
    if (!f->open() || !(scanned || f->more) || shipper.failed()) continue;
    readFile(shipper, *f, budget, now);
  }
  size_t open = 0;
  for (auto& [number, f] : files_) {
    if (!f->open()) continue;
    if (auto record = f->joiner->flushIfDue(now)) {
      shipRecord(shipper, *f, *record);
      mark(shipper, *f);
    }
    // Closed right after a read found nothing more, once it has not grown for a while.
    if (scanned && f->rotated && !f->more && now - f->lastGrowth >= options_.closeRotatedAfter) {
      closeFile(shipper, *f);
      continue;
    }
    ++open;
  }
  metrics_.filesOpen.set(static_cast<double>(open));
  if (now >= nextSave_) checkpoint(shipper, false);
  return true;
}

std::chrono::milliseconds FileInput::wakeIn() const {
  if (more_) return std::chrono::milliseconds(0);
  const auto now = Clock::now();
  auto next = nextScan_;
  for (const auto& [number, f] : files_) {
    if (!f->open()) continue;
    if (const auto due = f->joiner->due()) next = std::min(next, *due);
  }
  if (!marks_.empty()) next = std::min(next, nextSave_);
  return std::max(std::chrono::ceil<std::chrono::milliseconds>(next - now), std::chrono::milliseconds(0));
}

void FileInput::endOfInput(Shipper& shipper) {
  // A pending multiline record is made of whole lines: shipped (the timeout would have shipped it
  // within --multiline-timeout anyway). A partial last line stays unread: the next run reads it
  // once its writer has finished it.
  for (auto& [number, f] : files_) {
    if (!f->open()) continue;
    if (auto record = f->joiner->flush()) {
      shipRecord(shipper, *f, *record);
      mark(shipper, *f);
    }
  }
}

void FileInput::afterFinish(Shipper& shipper) { checkpoint(shipper, true); }

// ---- the checkpoint -----------------------------------------------------------------------------

std::vector<FollowEntry> FileInput::entries() const {
  std::vector<FollowEntry> out;
  out.reserve(files_.size());
  for (const auto& [number, f] : files_) {
    out.push_back({f->key, f->fingerprint, f->checkpoint, f->path, f->stream, f->checkpointLine});
  }
  return out;
}

void FileInput::markAndSaveIfDue(Shipper& shipper, File& f) {
  mark(shipper, f);
  if (Clock::now() >= nextSave_) checkpoint(shipper, false, false);
}

void FileInput::checkpoint(Shipper& shipper, bool final, bool forget) {
  marks_.settle(shipper.settledInput(), [this](const CheckpointMarks::Mark& m) {
    const auto it = files_.find(m.file);
    if (it != files_.end() && it->second->generation == m.generation) {
      it->second->checkpoint = m.offset;
      it->second->checkpointLine = m.line;
    }
  });
  // A closed file whose records are all safe needs no entry any more (not while files_ is walked).
  if (forget) {
    std::erase_if(files_,
                  [](const auto& e) { return !e.second->open() && e.second->checkpoint >= e.second->closedAt; });
  }
  nextSave_ = Clock::now() + options_.saveInterval;
  std::vector<FollowEntry> now = entries();
  if (now == saved_) return;
  try {
    state_.save(now);
    saved_ = std::move(now);
  } catch (const Error& e) {
    if (final) throw;
    // The previous state stays in place (a restart repeats more, loses nothing); tried again in a second.
    if (Clock::now() - lastSaveError_ >= std::chrono::seconds(60)) {
      spdlog::error("{}; trying again every {} ms", e.what(), options_.saveInterval.count());
      lastSaveError_ = Clock::now();
    }
  }
}

}  // namespace logship
