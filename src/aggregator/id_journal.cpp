#include "aggregator/id_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aggregator/file_sink.hpp"
#include "core/escape.hpp"
#include "core/io.hpp"

namespace logship {
namespace {

// Journal format (text with length-prefixed ids, so an id may hold any byte). Each entry is a head
// line, its ids, and a checksum line:
//   W <dev> <ino> <start> <end> <count>\n     an output write: file, offsets [start, end)
//   N 0 0 0 0 <count>\n                       a snapshot (compaction): ids all written
//   R <dev> <ino> 0 0 0\n                     the output is now file (dev, ino) (rotation, reopen):
//                                             every line journaled before is whole in the old file
// then the entry's <count> ids as runs, oldest first, one line each:
//   P <k> <prefix length> <prefix> <first>[ <delta>]*k\n   k ids <prefix>-<first> ... <prefix>-<first+k-1>
//   I <id length> <id>[ <delta>]\n                          one id of another shape
// where, in a write entry only, each id's <delta> is where its line ends in the output, counted from
// where the id before it in the entry ends (from <start> for the first); then
// ". <FNV-1a 64 of the entry's bytes before this line, hex>\n". An entry that does not parse or whose
// checksum is wrong ends the journal (a write torn by a crash; nothing after it counts).
//
// A batch of our producer's records is one run: a few bytes per id (its line's length) instead of
// the id itself. Journals of earlier versions, whose entries list one id per line, are still read:
//   E (a write) or S (a snapshot), then <count> lines "<line end offset> <id length> <id bytes>\n"
// (line end 0 in a snapshot); the first compaction rewrites them in the format above.

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The largest n of an id "<prefix>-<n>" (19 digits at most: splitRecordId).
constexpr uint64_t kMaxIdNumber = 9'999'999'999'999'999'999ULL;

// `count` ids in a row: <text>-<first> ... (split), or the one id <text>.
struct IdRun {
  std::string text;
  bool split = false;
  uint64_t first = 0;
  uint64_t count = 1;
  RecordIdRef id(uint64_t i) const {
    if (!split) return recordIdRef(text);
    RecordIdRef r;
    r.prefix = text;
    r.n = first + i;
    return r;
  }
};

struct Entry {
  enum class Kind { Write, Snapshot, Replaced };
  Kind kind = Kind::Write;
  uint64_t dev = 0, ino = 0, start = 0, end = 0;
  uint64_t ids = 0;
  std::vector<IdRun> runs;
  std::vector<uint64_t> ends;  // a write entry's line end offset of each id, in order

  // Calls f(id, line end) for the ids of the entry (line end 0 in a snapshot), oldest first; of a
  // run longer than `limit`, only its last `limit` ids (older ones would leave the window anyway).
  template <class F>
  void forEachId(uint64_t limit, F&& f) const {
    size_t at = 0;  // index into ends
    for (const IdRun& run : runs) {
      const uint64_t skip = run.count > limit ? run.count - limit : 0;
      for (uint64_t i = skip; i < run.count; ++i) f(run.id(i), ends.empty() ? 0 : ends[at + i]);
      at += static_cast<size_t>(run.count);
    }
  }
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool done() const { return pos_ >= s_.size(); }

  // One entry at pos(); nullopt if it is torn or corrupt.
  std::optional<Entry> entry() {
    const size_t begin = pos_;
    Entry e;
    if (pos_ + 2 > s_.size() || s_[pos_ + 1] != ' ') return std::nullopt;
    bool runs = true;
    switch (s_[pos_]) {
      case 'W': e.kind = Entry::Kind::Write; break;
      case 'N': e.kind = Entry::Kind::Snapshot; break;
      case 'R': e.kind = Entry::Kind::Replaced; break;
      case 'E': e.kind = Entry::Kind::Write, runs = false; break;
      case 'S': e.kind = Entry::Kind::Snapshot, runs = false; break;
      default: return std::nullopt;
    }
    pos_ += 2;
    if (!number(e.dev, ' ') || !number(e.ino, ' ') || !number(e.start, ' ') || !number(e.end, ' ') ||
        !number(e.ids, '\n')) {
      return std::nullopt;
    }
    const bool ok = runs ? runLines(e) : idLines(e);
    if (!ok) return std::nullopt;
    const uint64_t sum = fnv1a(s_.substr(begin, pos_ - begin));
    const std::string trailer = fmt::format(". {:016x}\n", sum);
    if (s_.substr(pos_, trailer.size()) != trailer) return std::nullopt;
    pos_ += trailer.size();
    return e;
  }

 private:
  // The earlier format: one "<line end> <length> <id>" line per id.
  bool idLines(Entry& e) {
    if (e.ids > s_.size()) return false;
    e.runs.reserve(e.ids);
    if (e.kind == Entry::Kind::Write) e.ends.reserve(e.ids);
    for (uint64_t i = 0; i < e.ids; ++i) {
      uint64_t end = 0;
      std::string_view id;
      if (!number(end, ' ') || !bytes(id, '\n')) return false;
      e.runs.push_back(IdRun{std::string(id), false, 0, 1});
      if (e.kind == Entry::Kind::Write) e.ends.push_back(end);
    }
    return true;
  }

  bool runLines(Entry& e) {
    const bool write = e.kind == Entry::Kind::Write;
    uint64_t left = e.ids;
    uint64_t lineEnd = e.start;
    while (left > 0) {
      if (pos_ + 2 > s_.size() || s_[pos_ + 1] != ' ') return false;
      const char kind = s_[pos_];
      pos_ += 2;
      IdRun run;
      std::string_view text;
      if (kind == 'P') {
        if (!number(run.count, ' ') || run.count == 0 || run.count > left || !bytes(text, ' ') || text.empty() ||
            !number(run.first, write ? ' ' : '\n') || run.first > kMaxIdNumber - (run.count - 1)) {
          return false;
        }
        run.split = true;
      } else if (kind == 'I') {
        if (!bytes(text, write ? ' ' : '\n')) return false;
      } else {
        return false;
      }
      if (write) {
        if (run.count > s_.size() - pos_) return false;  // a delta takes two bytes at least
        for (uint64_t i = 0; i < run.count; ++i) {
          uint64_t delta = 0;
          if (!number(delta, i + 1 == run.count ? '\n' : ' ') || delta > UINT64_MAX - lineEnd) return false;
          lineEnd += delta;
          e.ends.push_back(lineEnd);
        }
      }
      run.text = std::string(text);
      left -= run.count;
      e.runs.push_back(std::move(run));
    }
    return true;
  }

  // "<length> <bytes>" followed by `term`.
  bool bytes(std::string_view& out, char term) {
    uint64_t len = 0;
    if (!number(len, ' ') || len > s_.size() - pos_ || pos_ + len >= s_.size() || s_[pos_ + len] != term) {
      return false;
    }
    out = s_.substr(pos_, len);
    pos_ += len + 1;
    return true;
  }

  bool number(uint64_t& out, char term) {
    out = 0;
    size_t digits = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9' && digits < 20) {
      out = out * 10 + static_cast<uint64_t>(s_[pos_] - '0');
      ++pos_;
      ++digits;
    }
    if (digits == 0 || pos_ >= s_.size() || s_[pos_] != term) return false;
    ++pos_;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void appendNumber(std::string& out, uint64_t v) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
}

void sealEntry(std::string& entry, size_t begin) {
  entry += fmt::format(". {:016x}\n", fnv1a(std::string_view(entry).substr(begin)));
}

[[noreturn]] void fail(const std::string& what, const std::string& path, int code) {
  throw SinkError(errnoMessage(what, path, code), code);
}

// The journal is there only for --dedup-window: say how to do without it.
[[noreturn]] void failJournal(const std::string& what, const std::string& path, int code) {
  throw SinkError(fmt::format("{} (it keeps the ids of --dedup-window: make it writable, or run with "
                              "--dedup-window 0 for no deduplication and no journal)",
                              errnoMessage(what, path, code)),
                  code);
}

// A file of the output's directory, other than the output itself and its journal, whose name
// starts with the output's name and which is the file (dev, ino): where a rotation renamed it.
std::optional<std::string> findRenamedOutput(const std::string& outputPath, uint64_t dev, uint64_t ino) {
  namespace fs = std::filesystem;
  const fs::path output(outputPath);
  const std::string base = output.filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(directoryOf(outputPath), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= base.size() || name.compare(0, base.size(), base) != 0 || name.ends_with(".ids") ||
        name.ends_with(".ids.tmp")) {
      continue;
    }
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_dev) == dev &&
        static_cast<uint64_t>(st.st_ino) == ino) {
      return it->path().string();
    }
  }
  return std::nullopt;
}

}  // namespace

IdJournal::IdJournal(std::string path, const std::string& outputPath, int outputFd, IdJournalOptions options)
    : path_(std::move(path)), options_(options), window_(options.window) {
  removeLeftoverTemps(path_);  // of a compaction a crash interrupted
  std::string data;
  {
    const UniqueFd rfd = openFile(path_, O_RDONLY | O_CREAT, options_.fileMode);
    if (!rfd.valid()) failJournal("cannot open the duplicate journal", path_, errno);
    if (!readAll(rfd.get(), data)) failJournal("cannot read the duplicate journal", path_, errno);
  }

  Parser parser(data);
  std::optional<Entry> last;
  const auto rememberAll = [this](const Entry& e) {
    e.forEachId(options_.window, [this](const RecordIdRef& id, uint64_t) { remember(id); });
  };
  while (!parser.done()) {
    auto e = parser.entry();
    if (!e) {
      recovery_.journalDamaged = true;
      break;
    }
    if (last) rememberAll(*last);
    journalIds_ += e->ids;
    last = std::move(e);
  }

  bool forgot = false;
  bool nameOutput = false;  // the last entry names another file than the output: add one naming it
  if (last) {
    rememberAll(*last);
    struct stat st {};
    if (last->kind != Entry::Kind::Snapshot && ::fstat(outputFd, &st) != 0) {
      fail("cannot stat the output beside", path_, errno);
    }
    const bool sameFile =
        static_cast<uint64_t>(st.st_dev) == last->dev && static_cast<uint64_t>(st.st_ino) == last->ino;
    if (last->kind == Entry::Kind::Write) {
      std::optional<uint64_t> keepUpTo;  // ids of lines ending after this are forgotten
      if (sameFile && static_cast<uint64_t>(st.st_size) >= last->start) {
        keepUpTo = checkLastWrite(last->start, last->end, outputFd, outputPath, static_cast<uint64_t>(st.st_size));
      } else if (!sameFile) {
        // Rotated (by us, in the moment before the entry naming the new file; or renamed by
        // logrotate while we were down): check the write in the file where it went.
        if (auto renamed = findRenamedOutput(outputPath, last->dev, last->ino)) {
          const UniqueFd fd = openFile(*renamed, O_WRONLY);
          struct stat rst {};
          if (fd.valid() && ::fstat(fd.get(), &rst) == 0 && static_cast<uint64_t>(rst.st_ino) == last->ino &&
              static_cast<uint64_t>(rst.st_size) >= last->start) {
            keepUpTo = checkLastWrite(last->start, last->end, fd.get(), *renamed, static_cast<uint64_t>(rst.st_size));
            recovery_.checkedIn = *renamed;
          }
        }
      }
      if (!keepUpTo) {
        recovery_.outputChanged = true;
        keepUpTo = last->start;  // none of the entry's lines can be checked
      }
      std::vector<RecordIdRef> gone;
      last->forEachId(options_.window, [&](const RecordIdRef& id, uint64_t end) {
        if (end > *keepUpTo && window_.contains(id)) gone.push_back(id);
      });
      forget(gone);
      recovery_.forgotten = gone.size();
      forgot = !gone.empty();
    }
    nameOutput = last->kind != Entry::Kind::Snapshot && !sameFile;
    if (nameOutput) outputIdentity_ = {st.st_dev, st.st_ino};
  }
  recovery_.ids = window_.size();

  openForAppend();
  if (forgot || recovery_.journalDamaged || journalIds_ > 2 * options_.window) compact();
  if (nameOutput) outputReplaced(outputIdentity_->first, outputIdentity_->second);
}

uint64_t IdJournal::checkLastWrite(uint64_t start, uint64_t end, int fd, const std::string& filePath, uint64_t size) {
  if (size > end) {
    recovery_.outputGrew = true;  // nothing to cut: its lines are whole
    return size;
  }
  if (size == end) return size;
  // The last write was cut short: keep its complete lines, cut the fragment of the next one.
  // The sink's descriptor is write-only: read through the path (the same file: checked).
  std::string tail(static_cast<size_t>(size - start), '\0');
  // The same file as `fd` (checked), so a link at the path does not matter here.
  const UniqueFd outFd = openFile(filePath, O_RDONLY, 0, true);
  struct stat byFd {};
  struct stat byPath {};
  if (!outFd.valid() || ::fstat(fd, &byFd) != 0 || ::fstat(outFd.get(), &byPath) != 0 || byPath.st_ino != byFd.st_ino ||
      byPath.st_dev != byFd.st_dev) {
    fail("cannot read the end of the output", filePath, !outFd.valid() ? errno : ESTALE);
  }
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(outFd.get(), tail.data() + got, tail.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot read the end of the output", filePath, n < 0 ? errno : EIO);
    got += static_cast<size_t>(n);
  }
  const size_t nl = tail.rfind('\n');
  const uint64_t cut = start + (nl == std::string::npos ? 0 : nl + 1);
  if (cut < size) {
    if (::ftruncate(fd, static_cast<off_t>(cut)) != 0) {
      fail("cannot cut an incomplete last line off the output beside", path_, errno);
    }
    recovery_.cutBytes = static_cast<off_t>(size - cut);
  }
  return cut;
}

void IdJournal::outputReplaced(dev_t dev, ino_t ino) {
  namesOutput_ = false;
  std::string entry = fmt::format("R {} {} 0 0 0\n", static_cast<uint64_t>(dev), static_cast<uint64_t>(ino));
  sealEntry(entry, 0);
  appendEntry(entry, 0);
  namesOutput_ = true;
}

IdJournal::~IdJournal() = default;

void IdJournal::openForAppend() {
  UniqueFd fd = openFile(path_, O_WRONLY | O_APPEND | O_CREAT, options_.fileMode);
  if (!fd.valid()) failJournal("cannot open the duplicate journal", path_, errno);
  fd_ = std::move(fd);
}

void IdJournal::add(const RecordIdRef& id, size_t end) {
  const bool split = !id.prefix.empty();
  const std::string_view text = split ? id.prefix : id.raw;
  Line line{end, 0, static_cast<uint32_t>(text.size()), id.n, split, false};
  const bool samePrefix = split && !pending_.empty() && pending_.back().split &&
                          std::string_view(pendingText_).substr(pending_.back().offset, pending_.back().size) == text;
  if (samePrefix) {
    line.offset = pending_.back().offset;  // the same producer as the line before: share its prefix
  } else {
    line.offset = static_cast<uint32_t>(pendingText_.size());
    pendingText_ += text;
  }
  // The line before ends the open run when there is one: does this one extend it?
  const bool extends = samePrefix && openCount_ > 0 && id.n == pending_.back().n + 1;
  pending_.push_back(line);
  if (extends) {
    ++openCount_;
    return;
  }
  closeOpenRun();
  if (split) {
    openStart_ = pending_.size() - 1;
    openCount_ = 1;
  } else {
    pendingIds_.insert(id);
  }
}

bool IdJournal::inOpenRun(const RecordIdRef& first, uint64_t count) const {
  if (openCount_ == 0 || count == 0 || first.prefix.empty()) return false;
  const Line& head = pending_[openStart_];
  if (std::string_view(pendingText_).substr(head.offset, head.size) != first.prefix) return false;
  // [first.n, first.n + count) meets [head.n, head.n + openCount_)
  return first.n - head.n < openCount_ || head.n - first.n < count;
}

void IdJournal::closeOpenRun() {
  if (openCount_ == 0) return;
  pendingIds_.insertRun(idOf(pending_[openStart_]), openCount_);
  openCount_ = 0;
}

RecordIdRef IdJournal::idOf(const Line& line) const {
  RecordIdRef id;
  const std::string_view text = std::string_view(pendingText_).substr(line.offset, line.size);
  if (line.split) {
    id.prefix = text;
    id.n = line.n;
  } else {
    id.raw = text;
  }
  return id;
}

void IdJournal::forget(const std::vector<RecordIdRef>& ids) {
  for (const auto& id : ids) window_.erase(id);
}

void IdJournal::beforeWrite(dev_t dev, ino_t ino, off_t offset, size_t from, size_t batchEnd) {
  size_t first = 0;
  while (first < pending_.size() && pending_[first].end <= from) ++first;
  const size_t count = pending_.size() - first;
  if (journalIds_ + count > 2 * options_.window) {
    // Lines being (re)written are left out of the snapshot: the entry below names them.
    std::vector<RecordIdRef> rewritten;
    for (size_t i = first; i < pending_.size(); ++i) {
      if (pending_[i].journaled) rewritten.push_back(idOf(pending_[i]));
    }
    forget(rewritten);
    try {
      compact();
    } catch (...) {
      for (const auto& id : rewritten) remember(id);  // still pending: a resend must still be caught
      throw;
    }
    for (const auto& id : rewritten) remember(id);
  }
  const auto start = static_cast<uint64_t>(offset);
  std::string entry = fmt::format("W {} {} {} {} {}\n", static_cast<uint64_t>(dev), static_cast<uint64_t>(ino), start,
                                  start + (batchEnd - from), count);
  entry.reserve(entry.size() + count * 5 + 64);
  uint64_t lineEnd = start;  // where the id before ends: the deltas count from it
  for (size_t i = first; i < pending_.size();) {
    // One line per run: ids with the same prefix and consecutive numbers (a batch of our producer's
    // records is one), each id's line end as a delta (the line's length when the lines follow one
    // another).
    const Line& head = pending_[i];
    const size_t j = runEnd(i);
    const std::string_view text = std::string_view(pendingText_).substr(head.offset, head.size);
    entry += head.split ? "P " : "I ";
    if (head.split) {
      appendNumber(entry, j - i);
      entry += ' ';
    }
    appendNumber(entry, text.size());
    entry += ' ';
    entry += text;
    if (head.split) {
      entry += ' ';
      appendNumber(entry, head.n);
    }
    for (; i < j; ++i) {
      const uint64_t end = start + (pending_[i].end - from);
      entry += ' ';
      appendNumber(entry, end - lineEnd);
      lineEnd = end;
    }
    entry += '\n';
  }
  sealEntry(entry, 0);
  appendEntry(entry, count);
  namesOutput_ = true;  // this entry names the file being written
  rememberNewlyJournaled(first);
}

size_t IdJournal::runEnd(size_t i) const {
  const Line& head = pending_[i];
  size_t j = i + 1;
  if (head.split) {
    while (j < pending_.size() && pending_[j].split && pending_[j].offset == head.offset &&
           pending_[j].size == head.size && pending_[j].n == pending_[j - 1].n + 1) {
      ++j;
    }
  }
  return j;
}

void IdJournal::rememberNewlyJournaled(size_t first) {
  // Into the window per run of consecutive ids (IdWindow::insertRun: as one insert per id, in
  // order). They stay among the pending ids too (contains() asks both) until the batch is written
  // or discarded, which clears them: one lookup less per record.
  for (size_t i = first; i < pending_.size();) {
    if (pending_[i].journaled) {  // journaled by an earlier try of this batch: in the window already
      ++i;
      continue;
    }
    const size_t run = runEnd(i);
    size_t j = i;
    while (j < run && !pending_[j].journaled) pending_[j++].journaled = true;
    window_.insertRun(idOf(pending_[i]), j - i);
    i = j;
  }
}

void IdJournal::appendEntry(const std::string& entry, size_t ids) {
  struct stat st {};
  const bool sized = ::fstat(fd_.get(), &st) == 0;
  if (!writeAll(fd_.get(), entry) || (options_.fsync && ::fdatasync(fd_.get()) != 0)) {
    const int code = errno;
    // Cut the torn entry off, so that later entries are not hidden behind it.
    if (sized && ::ftruncate(fd_.get(), st.st_size) != 0) {
      spdlog::warn("{}", errnoMessage("cannot cut a torn entry off", path_, errno));
    }
    failJournal("cannot write the duplicate journal", path_, code);
  }
  journalIds_ += ids;
}

void IdJournal::compact() {
  std::string ids;
  size_t count = 0;
  window_.forEachRun([&](const RecordIdRef& first, uint64_t n) {
    if (first.prefix.empty()) {
      ids += "I ";
      appendNumber(ids, first.raw.size());
      ids += ' ';
      ids += first.raw;
    } else {
      ids += "P ";
      appendNumber(ids, n);
      ids += ' ';
      appendNumber(ids, first.prefix.size());
      ids += ' ';
      ids += first.prefix;
      ids += ' ';
      appendNumber(ids, first.n);
    }
    ids += '\n';
    count += n;
  });
  std::string data = fmt::format("N 0 0 0 0 {}\n", count);
  data += ids;
  sealEntry(data, 0);
  try {
    replaceFile(path_, data, options_.fileMode, options_.fsync);
  } catch (const SystemError& e) {
    throw SinkError(fmt::format("cannot rewrite the duplicate journal: {} (it keeps the ids of --dedup-window: "
                                "make it writable, or run with --dedup-window 0 for no deduplication and no journal)",
                                e.what()),
                    e.code());
  }
  journalIds_ = count;
  openForAppend();
}

void IdJournal::batchWritten() {
  pending_.clear();
  pendingText_.clear();
  pendingIds_.clear();
  openCount_ = 0;
}

void IdJournal::batchDiscarded(size_t kept) {
  std::vector<RecordIdRef> notWritten;
  for (const Line& l : pending_) {
    if (l.journaled && l.end > kept) notWritten.push_back(idOf(l));
  }
  forget(notWritten);
  batchWritten();  // the pending batch is done with all the same
}

}  // namespace logship
