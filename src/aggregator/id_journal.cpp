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

// Journal format (text with length-prefixed ids, so an id may hold any byte):
//   E <dev> <ino> <start> <end> <count>\n     an output write: file, offsets [start, end)
//   S 0 0 0 0 <count>\n                       a snapshot (compaction): ids all written
//   R <dev> <ino> 0 0 0\n                     the output is now file (dev, ino) (rotation, reopen):
//                                             every line journaled before is whole in the old file
// then <count> lines "<line end offset> <id length> <id bytes>\n" (line end 0 in a snapshot), then
// ". <FNV-1a 64 of the entry's bytes before this line, hex>\n". An entry that does not parse or
// whose checksum is wrong ends the journal (a write torn by a crash; nothing after it counts).

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct Entry {
  enum class Kind { Write, Snapshot, Replaced };
  Kind kind = Kind::Write;
  uint64_t dev = 0, ino = 0, start = 0, end = 0;
  std::vector<std::pair<uint64_t, std::string>> ids;  // line end offset, id
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
    switch (s_[pos_]) {
      case 'E': e.kind = Entry::Kind::Write; break;
      case 'S': e.kind = Entry::Kind::Snapshot; break;
      case 'R': e.kind = Entry::Kind::Replaced; break;
      default: return std::nullopt;
    }
    pos_ += 2;
    uint64_t count = 0;
    if (!number(e.dev, ' ') || !number(e.ino, ' ') || !number(e.start, ' ') || !number(e.end, ' ') ||
        !number(count, '\n')) {
      return std::nullopt;
    }
    if (count > s_.size()) return std::nullopt;
    e.ids.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t end = 0, len = 0;
      if (!number(end, ' ') || !number(len, ' ') || len > s_.size() - pos_ || pos_ + len >= s_.size() ||
          s_[pos_ + len] != '\n') {
        return std::nullopt;
      }
      e.ids.emplace_back(end, std::string(s_.substr(pos_, len)));
      pos_ += len + 1;
    }
    const uint64_t sum = fnv1a(s_.substr(begin, pos_ - begin));
    const std::string trailer = fmt::format(". {:016x}\n", sum);
    if (s_.substr(pos_, trailer.size()) != trailer) return std::nullopt;
    pos_ += trailer.size();
    return e;
  }

 private:
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
  throw SinkError(fmt::format("{} {}: {}", what, escaped(path), std::strerror(code)), code);
}

std::string readAll(int fd, const std::string& path) {
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read the duplicate journal", path, errno);
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
  }
}

// A file of the output's directory, other than the output itself and its journal, whose name
// starts with the output's name and which is the file (dev, ino): where a rotation renamed it.
std::optional<std::string> findRenamedOutput(const std::string& outputPath, uint64_t dev, uint64_t ino) {
  namespace fs = std::filesystem;
  const fs::path output(outputPath);
  const std::string base = output.filename().string();
  const fs::path dir = output.parent_path().empty() ? fs::path(".") : output.parent_path();
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
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
  const int rfd = ::open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (rfd < 0) fail("cannot open the duplicate journal", path_, errno);
  std::string data;
  try {
    data = readAll(rfd, path_);
  } catch (...) {
    ::close(rfd);
    throw;
  }
  ::close(rfd);

  Parser parser(data);
  std::optional<Entry> last;
  while (!parser.done()) {
    auto e = parser.entry();
    if (!e) {
      recovery_.journalDamaged = true;
      break;
    }
    if (last) {
      for (auto& [end, id] : last->ids) remember(recordIdRef(id));
    }
    journalIds_ += e->ids.size();
    last = std::move(e);
  }

  bool forgot = false;
  bool nameOutput = false;  // the last entry names another file than the output: add one naming it
  if (last) {
    for (auto& [end, id] : last->ids) remember(recordIdRef(id));
    struct stat st {};
    if (last->kind != Entry::Kind::Snapshot && ::fstat(outputFd, &st) != 0) {
      fail("cannot stat the output beside", path_, errno);
    }
    const bool sameFile = static_cast<uint64_t>(st.st_dev) == last->dev && static_cast<uint64_t>(st.st_ino) == last->ino;
    if (last->kind == Entry::Kind::Write) {
      std::optional<uint64_t> keepUpTo;  // ids of lines ending after this are forgotten
      if (sameFile && static_cast<uint64_t>(st.st_size) >= last->start) {
        keepUpTo = checkLastWrite(last->start, last->end, outputFd, outputPath, static_cast<uint64_t>(st.st_size));
      } else if (!sameFile) {
        // Rotated (by us, in the moment before the entry naming the new file; or renamed by
        // logrotate while we were down): check the write in the file where it went.
        if (auto renamed = findRenamedOutput(outputPath, last->dev, last->ino)) {
          const int fd = ::open(renamed->c_str(), O_WRONLY | O_CLOEXEC);
          struct stat rst {};
          if (fd >= 0 && ::fstat(fd, &rst) == 0 && static_cast<uint64_t>(rst.st_ino) == last->ino &&
              static_cast<uint64_t>(rst.st_size) >= last->start) {
            try {
              keepUpTo = checkLastWrite(last->start, last->end, fd, *renamed, static_cast<uint64_t>(rst.st_size));
            } catch (...) {
              ::close(fd);
              throw;
            }
            recovery_.checkedIn = *renamed;
          }
          if (fd >= 0) ::close(fd);
        }
      }
      if (!keepUpTo) {
        recovery_.outputChanged = true;
        keepUpTo = last->start;  // none of the entry's lines can be checked
      }
      std::vector<RecordIdRef> gone;
      for (auto& [end, id] : last->ids) {
        if (end > *keepUpTo && window_.contains(id)) gone.push_back(recordIdRef(id));
      }
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
  const int outFd = ::open(filePath.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat byFd {};
  struct stat byPath {};
  if (outFd < 0 || ::fstat(fd, &byFd) != 0 || ::fstat(outFd, &byPath) != 0 || byPath.st_ino != byFd.st_ino ||
      byPath.st_dev != byFd.st_dev) {
    const int code = outFd < 0 ? errno : ESTALE;
    if (outFd >= 0) ::close(outFd);
    fail("cannot read the end of the output", filePath, code);
  }
  size_t got = 0;
  while (got < tail.size()) {
    const ssize_t n = ::pread(outFd, tail.data() + got, tail.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int code = n < 0 ? errno : EIO;
      ::close(outFd);
      fail("cannot read the end of the output", filePath, code);
    }
    got += static_cast<size_t>(n);
  }
  ::close(outFd);
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

IdJournal::~IdJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void IdJournal::openForAppend() {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot open the duplicate journal", path_, errno);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void IdJournal::add(const RecordIdRef& id, size_t end) {
  const bool split = !id.prefix.empty();
  const std::string_view text = split ? id.prefix : id.raw;
  Line line{end, 0, static_cast<uint32_t>(text.size()), id.n, split, false};
  if (split && !pending_.empty() && pending_.back().split &&
      std::string_view(pendingText_).substr(pending_.back().offset, pending_.back().size) == text) {
    line.offset = pending_.back().offset;  // the same producer as the line before: share its prefix
  } else {
    line.offset = static_cast<uint32_t>(pendingText_.size());
    pendingText_ += text;
  }
  pending_.push_back(line);
  pendingIds_.insert(id);
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
  std::string entry = fmt::format("E {} {} {} {} {}\n", static_cast<uint64_t>(dev), static_cast<uint64_t>(ino),
                                  start, start + (batchEnd - from), count);
  entry.reserve(entry.size() + count * 48 + 20);
  for (size_t i = first; i < pending_.size(); ++i) {
    // "<line end> <id length> <id>\n" (the hot path of a batch: one line per record).
    const Line& line = pending_[i];
    const std::string_view text = std::string_view(pendingText_).substr(line.offset, line.size);
    char digits[20];
    size_t digitCount = 0;
    if (line.split) {
      digitCount = static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, line.n).ptr - digits);
    }
    appendNumber(entry, start + (line.end - from));
    entry += ' ';
    appendNumber(entry, text.size() + (line.split ? 1 + digitCount : 0));
    entry += ' ';
    entry += text;
    if (line.split) {
      entry += '-';
      entry.append(digits, digitCount);
    }
    entry += '\n';
  }
  sealEntry(entry, 0);
  appendEntry(entry, count);
  namesOutput_ = true;  // this entry names the file being written
  for (size_t i = first; i < pending_.size(); ++i) {
    if (pending_[i].journaled) continue;
    pending_[i].journaled = true;
    const RecordIdRef id = idOf(pending_[i]);
    pendingIds_.erase(id);
    remember(id);
  }
}

void IdJournal::appendEntry(const std::string& entry, size_t ids) {
  struct stat st {};
  const bool sized = ::fstat(fd_, &st) == 0;
  if (!writeAll(fd_, entry) || (options_.fsync && ::fdatasync(fd_) != 0)) {
    const int code = errno;
    // Cut the torn entry off, so that later entries are not hidden behind it.
    if (sized && ::ftruncate(fd_, st.st_size) != 0) {
      spdlog::warn("cannot cut a torn entry off {}: {}", escaped(path_), std::strerror(errno));
    }
    fail("cannot write the duplicate journal", path_, code);
  }
  journalIds_ += ids;
}

void IdJournal::compact() {
  const std::string tmp = path_ + ".tmp";
  std::string ids;
  size_t count = 0;
  window_.forEach([&](std::string_view id) {
    fmt::format_to(std::back_inserter(ids), "0 {} ", id.size());
    ids += id;
    ids += '\n';
    ++count;
  });
  std::string data = fmt::format("S 0 0 0 0 {}\n", count);
  data += ids;
  sealEntry(data, 0);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write the duplicate journal", tmp, errno);
  if (!writeAll(fd, data) || (options_.fsync && ::fdatasync(fd) != 0)) {
    const int code = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail("cannot write the duplicate journal", tmp, code);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int code = errno;
    ::unlink(tmp.c_str());
    fail("cannot replace the duplicate journal", path_, code);
  }
  if (options_.fsync) {
    const auto dir = std::filesystem::path(path_).parent_path();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  journalIds_ = count;
  openForAppend();
}

void IdJournal::batchWritten() {
  pending_.clear();
  pendingText_.clear();
  pendingIds_.clear();
}

void IdJournal::batchDiscarded(size_t kept) {
  std::vector<RecordIdRef> notWritten;
  for (const Line& l : pending_) {
    if (l.journaled && l.end > kept) notWritten.push_back(idOf(l));
  }
  forget(notWritten);
  pending_.clear();
  pendingText_.clear();
  pendingIds_.clear();
}

}  // namespace logship
