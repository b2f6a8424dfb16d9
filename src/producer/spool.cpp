#include "producer/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/io.hpp"

namespace logship {
namespace {

size_t payloadBytes(const Message& m) {
  size_t n = 4 + m.body.size();
  for (const auto& h : m.headers) n += 8 + h.key.size() + h.value.size();
  return n;
}

size_t entryBytes(const Message& m) { return DiskSpool::kEntryHeaderBytes + payloadBytes(m); }

void putU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
uint32_t getU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t getU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// CRC-32 (zlib) of the sequence number followed by the payload.
uint32_t entryChecksum(uint64_t seq, std::string_view payload) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(&seq), 8);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  return static_cast<uint32_t>(crc);
}

constexpr uint32_t kCursorMagic = 0x3143534c;  // "LSC1"

bool preadAll(int fd, char* data, size_t size, size_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

// ---- payload ----------------------------------------------------------------------------------
// u32 header count, then per header u32 key length, key, u32 value length, value; then the body
// (the rest of the payload). Little-endian.

void encodeSpoolPayload(const Message& message, std::string& out) {
  putU32(out, static_cast<uint32_t>(message.headers.size()));
  for (const auto& h : message.headers) {
    putU32(out, static_cast<uint32_t>(h.key.size()));
    out += h.key;
    putU32(out, static_cast<uint32_t>(h.value.size()));
    out += h.value;
  }
  out += message.body;
}

uint64_t spoolPayloadRecords(std::string_view p) {
  if (p.size() < 4) return 1;
  const uint32_t count = getU32(p.data());
  size_t pos = 4;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view kv[2];
    for (auto& s : kv) {
      if (p.size() - pos < 4) return 1;
      const uint32_t len = getU32(p.data() + pos);
      pos += 4;
      if (p.size() - pos < len) return 1;
      s = p.substr(pos, len);
      pos += len;
    }
    if (kv[0] == wire::kBatch) {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(kv[1].data(), kv[1].data() + kv[1].size(), n);
      return ec == std::errc{} && ptr == kv[1].data() + kv[1].size() && n > 0 ? n : 1;
    }
  }
  return 1;
}

bool decodeSpoolPayload(std::string_view p, Message& out) {
  out.headers.clear();
  if (p.size() < 4) return false;
  uint32_t count = getU32(p.data());
  size_t pos = 4;
  if (count > p.size()) return false;
  out.headers.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Header h;
    for (std::string* s : {&h.key, &h.value}) {
      if (p.size() - pos < 4) return false;
      const uint32_t len = getU32(p.data() + pos);
      pos += 4;
      if (p.size() - pos < len) return false;
      s->assign(p.data() + pos, len);
      pos += len;
    }
    out.headers.push_back(std::move(h));
  }
  out.body.assign(p.data() + pos, p.size() - pos);
  return true;
}

// ---- Spool: locking, waiting, limits ----------------------------------------------------------

Spool::Appended Spool::append(const Message& message, uint64_t records) {
  std::unique_lock lock(mu_);
  const size_t size = sizeOf(message);
  for (;;) {
    if (shutdown_) return Appended::Closed;
    if (!fullLocked(size)) break;
    full_ = true;
    if (limits_.dropWhenFull) {
      ++dropped_;
      return Appended::Dropped;
    }
    spaceCv_.wait(lock);
  }
  bytes_ += storeLocked(message);
  full_ = false;
  ++held_;
  heldRecords_ += records;
  dataCv_.notify_one();
  return Appended::Stored;
}

bool Spool::fullLocked(size_t entryBytes) { return held_ > 0 && bytes_ + entryBytes > limits_.maxBytes; }

void Spool::closeInput() {
  std::lock_guard lock(mu_);
  closed_ = true;
  dataCv_.notify_all();
}

size_t Spool::take(std::vector<Message>& out, size_t max, std::chrono::milliseconds wait, size_t maxBytes) {
  std::unique_lock lock(mu_);
  if (held_ == taken_ && !closed_ && wait.count() > 0) {
    dataCv_.wait_for(lock, wait, [&] { return held_ > taken_ || closed_ || shutdown_; });
  }
  const size_t n = static_cast<size_t>(std::min<uint64_t>(max, held_ - taken_));
  size_t took = 0;
  size_t bytes = 0;
  while (took < n && bytes < maxBytes) {
    loadLocked(1, out);
    bytes += out.back().body.size();
    ++took;
    ++taken_;
  }
  return took;
}

void Spool::release(size_t count, uint64_t records) {
  if (count == 0) return;
  std::lock_guard lock(mu_);
  count = static_cast<size_t>(std::min<uint64_t>(count, taken_));
  heldRecords_ -= std::min(heldRecords_, records);
  bytes_ -= std::min(bytes_, releaseLocked(count));
  held_ -= count;
  taken_ -= count;
  spaceCv_.notify_all();
}

void Spool::rewind() {
  std::lock_guard lock(mu_);
  rewindLocked();
  taken_ = 0;
  dataCv_.notify_all();
}

void Spool::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  spaceCv_.notify_all();
  dataCv_.notify_all();
}

uint64_t Spool::held() const {
  std::lock_guard lock(mu_);
  return held_;
}
uint64_t Spool::heldRecords() const {
  std::lock_guard lock(mu_);
  return heldRecords_;
}
uint64_t Spool::untaken() const {
  std::lock_guard lock(mu_);
  return held_ - taken_;
}
uint64_t Spool::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}
bool Spool::inputClosed() const {
  std::lock_guard lock(mu_);
  return closed_;
}
size_t Spool::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}
bool Spool::full() const {
  std::lock_guard lock(mu_);
  return full_;
}

// ---- MemorySpool ------------------------------------------------------------------------------

size_t Spool::sizeOf(const Message& message) const { return entryBytes(message); }

size_t MemorySpool::sizeOf(const Message& message) const {
  // A string longer than the small-string buffer owns a heap block (capacity + NUL + malloc's 16).
  const auto heap = [](const std::string& s) { return s.size() < 16 ? size_t{0} : s.size() + 1 + 16; };
  size_t size = sizeof(std::pair<Message, size_t>) + heap(message.body) + message.headers.size() * sizeof(Header);
  for (const auto& h : message.headers) size += heap(h.key) + heap(h.value);
  return size;
}

size_t MemorySpool::storeLocked(const Message& message) {
  const size_t size = sizeOf(message);
  entries_.emplace_back(message, size);
  return size;
}

void MemorySpool::loadLocked(size_t count, std::vector<Message>& out) {
  for (size_t i = 0; i < count; ++i) out.push_back(std::move(entries_[next_++].first));
}

void MemorySpool::rewindLocked() {
  throw std::logic_error("a memory spool cannot rewind: its taken entries belong to the sender");
}

size_t MemorySpool::releaseLocked(size_t count) {
  size_t freed = 0;
  for (size_t i = 0; i < count && !entries_.empty(); ++i) {
    freed += entries_.front().second;
    entries_.pop_front();
  }
  next_ -= std::min(next_, count);
  return freed;
}

// ---- DiskSpool --------------------------------------------------------------------------------

DiskSpool::DiskSpool(const std::string& dir, SpoolLimits limits) : Spool(limits), dir_(dir) {
  // The spool holds records not yet sent: private to its user.
  createDirectories(dir_, kPrivateDirectoryMode);
  const std::string lockPath = dir_ + "/lock";
  lockFd_ = lockFile(lockPath, 0600);
  if (!lockFd_.valid() && errno == EWOULDBLOCK) {
    throw Error(fmt::format("the spool directory {} is in use by another log_producer", escaped(dir_)));
  }
  if (!lockFd_.valid()) throw Error(errnoMessage("cannot lock the spool directory", lockPath, errno));
  segmentBytes_ = std::clamp<size_t>(limits_.maxBytes / 8, 64 * 1024, 16 * 1024 * 1024);
  cacheLimit_ = std::clamp<size_t>(limits_.maxBytes / 4, 64 * 1024, 4 * 1024 * 1024);
  try {
    recover();
  } catch (...) {
    closeAll();
    throw;
  }
}

DiskSpool::~DiskSpool() { closeAll(); }

void DiskSpool::closeAll() noexcept {
  for (UniqueFd* fd : {&writeFd_, &cursorFd_, &readFd_, &lockFd_}) fd->reset();
}

std::string DiskSpool::segmentPath(uint64_t firstSeq) const { return fmt::format("{}/{:020}.seg", dir_, firstSeq); }

void DiskSpool::recover() {
  // The segments, oldest first.
  std::vector<uint64_t> firsts;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    if (name.size() == 24 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) {
      firsts.push_back(std::stoull(name.substr(0, 20)));
    }
  }
  std::sort(firsts.begin(), firsts.end());

  // The cursor: the first sequence number the broker has not confirmed.
  const std::string cursorPath = dir_ + "/cursor";
  cursorFd_ = openFile(cursorPath, O_RDWR | O_CREAT, 0600);
  if (!cursorFd_.valid()) throw Error(errnoMessage("cannot open the spool cursor", cursorPath, errno));
  char cur[16];
  bool haveCursor = false;
  uint64_t cursor = 0;
  if (preadAll(cursorFd_.get(), cur, 16, 0) && getU32(cur + 12) == kCursorMagic &&
      getU32(cur + 8) == static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(cur), 8))) {
    cursor = getU64(cur);
    haveCursor = true;
  }

  std::string data;
  uint64_t heldRecords = 0;
  uint64_t heldEntries = 0;
  for (size_t i = 0; i < firsts.size(); ++i) {
    const std::string path = segmentPath(firsts[i]);
    const UniqueFd fd = openFile(path, O_RDWR);
    if (!fd.valid()) throw Error(errnoMessage("cannot open the spool segment", path, errno));
    struct stat st {};
    ::fstat(fd.get(), &st);
    data.resize(static_cast<size_t>(st.st_size));
    if (!data.empty() && !preadAll(fd.get(), data.data(), data.size(), 0)) {
      throw Error(errnoMessage("cannot read the spool segment", path, errno));
    }
    Segment seg{firsts[i], 0, 0};
    size_t pos = 0;
    while (data.size() - pos >= kEntryHeaderBytes) {
      const char* h = data.data() + pos;
      const uint32_t len = getU32(h + 4);
      const uint64_t seq = getU64(h + 8);
      if (getU32(h) != kEntryMagic || seq != seg.firstSeq + seg.entries ||
          data.size() - pos - kEntryHeaderBytes < len ||
          getU32(h + 16) != entryChecksum(seq, std::string_view(h + kEntryHeaderBytes, len))) {
        break;
      }
      if (!haveCursor || seq >= cursor) {
        heldRecords += spoolPayloadRecords(std::string_view(h + kEntryHeaderBytes, len));
        ++heldEntries;
      }
      pos += kEntryHeaderBytes + len;
      ++seg.entries;
    }
    if (pos < data.size()) {
      const bool last = i + 1 == firsts.size();
      if (last) {
        spdlog::warn(
            "spool: cut {} byte(s) of a torn entry at the end of {} (a crash during an append; that "
            "record was never accepted)",
            data.size() - pos, escaped(path));
      } else {
        const uint64_t lost =
            firsts[i + 1] > seg.firstSeq + seg.entries ? firsts[i + 1] - seg.firstSeq - seg.entries : 0;
        spdlog::error("spool: segment {} is damaged at offset {}: {} record(s) after it cannot be read and are lost",
                      escaped(path), pos, lost);
      }
      if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0) {
        throw Error(errnoMessage("cannot repair the spool segment", path, errno));
      }
    }
    seg.bytes = pos;
    if (seg.entries == 0 ||
        (!segments_.empty() && seg.firstSeq < segments_.back().firstSeq + segments_.back().entries)) {
      ::unlink(path.c_str());  // empty (or overlapping: impossible unless edited by hand)
      continue;
    }
    segments_.push_back(seg);
  }

  nextSeq_ = segments_.empty() ? std::max<uint64_t>(cursor, 1) : segments_.back().firstSeq + segments_.back().entries;
  firstHeld_ = segments_.empty() ? nextSeq_ : segments_.front().firstSeq;
  if (haveCursor) firstHeld_ = std::clamp(cursor, firstHeld_, nextSeq_);
  // Segments the broker confirmed entirely.
  while (!segments_.empty() && segments_.front().firstSeq + segments_.front().entries <= firstHeld_) {
    ::unlink(segmentPath(segments_.front().firstSeq).c_str());
    segments_.pop_front();
  }
  size_t total = 0;
  for (const auto& s : segments_) total += s.bytes;
  recoveredEntries_ = nextSeq_ - firstHeld_;
  // Entries counted while scanning but lost to damage further on are not held: count again only
  // when the two disagree (a damaged segment), assuming one record per entry for the difference.
  recovered_ = heldEntries == recoveredEntries_ ? heldRecords : recoveredEntries_;
  adoptLocked(recoveredEntries_, recovered_, total);
  nextTake_ = firstHeld_;
  writeCursor();
  if (recovered_ > 0) {
    spdlog::info("spool {}: {} record(s) left by an earlier run are sent first", escaped(dir_), recovered_);
  }
}

void DiskSpool::writeCursor() {
  char cur[16];
  std::memcpy(cur, &firstHeld_, 8);
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(cur), 8));
  std::memcpy(cur + 8, &crc, 4);
  std::memcpy(cur + 12, &kCursorMagic, 4);
  // One 16-byte write at offset 0: a process crash cannot tear it. A torn cursor (power loss) is
  // detected by its checksum, and then everything in the spool is sent again (duplicates, not loss).
  if (::pwrite(cursorFd_.get(), cur, 16, 0) != 16) {
    spdlog::warn("{}", errnoMessage("cannot update the spool cursor in", dir_, errno));
  }
}

void DiskSpool::openWriteSegment(uint64_t firstSeq) {
  writeFd_.reset();
  const std::string path = segmentPath(firstSeq);
  writeFd_ = openFile(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!writeFd_.valid()) throw Error(errnoMessage("cannot create the spool segment", path, errno));
  if (segments_.empty() || segments_.back().firstSeq != firstSeq) segments_.push_back(Segment{firstSeq, 0, 0});
}

size_t DiskSpool::storeLocked(const Message& message) {
  entryBuf_.assign(kEntryHeaderBytes, '\0');
  encodeSpoolPayload(message, entryBuf_);
  const uint64_t seq = nextSeq_;
  const uint32_t len = static_cast<uint32_t>(entryBuf_.size() - kEntryHeaderBytes);
  const uint32_t crc = entryChecksum(seq, std::string_view(entryBuf_).substr(kEntryHeaderBytes));
  std::memcpy(entryBuf_.data(), &kEntryMagic, 4);
  std::memcpy(entryBuf_.data() + 4, &len, 4);
  std::memcpy(entryBuf_.data() + 8, &seq, 8);
  std::memcpy(entryBuf_.data() + 16, &crc, 4);

  if (!writeFd_.valid() || segments_.empty() || segments_.back().bytes >= segmentBytes_) openWriteSegment(seq);
  Segment& seg = segments_.back();
  try {
    if (!writeAll(writeFd_.get(), entryBuf_)) throw Error(std::strerror(errno));
  } catch (const Error& e) {
    // Leave no torn entry behind: the record is not accepted.
    [[maybe_unused]] int rc = ::ftruncate(writeFd_.get(), static_cast<off_t>(seg.bytes));
    throw Error(fmt::format("cannot write to the spool {}: {}", escaped(dir_), e.what()));
  }
  seg.bytes += entryBuf_.size();
  ++seg.entries;
  ++nextSeq_;
  cache_.push_back(Cached{seq, seg.firstSeq, message, seg.bytes});
  cacheBytes_ += entryBuf_.size();
  while (cacheBytes_ > cacheLimit_ && cache_.size() > 1) {
    cacheBytes_ -= entryBytes(cache_.front().message);
    cache_.pop_front();
  }
  return entryBuf_.size();
}

size_t DiskSpool::segmentIndexOf(uint64_t seq) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), seq,
                             [](uint64_t s, const Segment& seg) { return s < seg.firstSeq; });
  return static_cast<size_t>(it - segments_.begin()) - 1;
}

void DiskSpool::readNextLocked(Message& out) {
  const Segment& seg = segments_[segmentIndexOf(nextTake_)];
  if (readSegment_ != seg.firstSeq) {
    const std::string path = segmentPath(seg.firstSeq);
    readFd_ = openFile(path, O_RDONLY);
    if (!readFd_.valid()) throw Error(errnoMessage("cannot open the spool segment", path, errno));
    readSegment_ = seg.firstSeq;
    readOffset_ = 0;
    readSeq_ = seg.firstSeq;
  }
  char h[kEntryHeaderBytes];
  // Skip forward to nextTake_ (after a rewind, or when the cache served the entries before).
  for (;;) {
    if (!preadAll(readFd_.get(), h, kEntryHeaderBytes, readOffset_) || getU32(h) != kEntryMagic ||
        getU64(h + 8) != readSeq_) {
      throw Error(fmt::format("the spool segment {} changed under us at offset {}", escaped(segmentPath(seg.firstSeq)),
                              readOffset_));
    }
    if (readSeq_ == nextTake_) break;
    readOffset_ += kEntryHeaderBytes + getU32(h + 4);
    ++readSeq_;
  }
  const uint32_t len = getU32(h + 4);
  readBuf_.resize(len);
  if (!preadAll(readFd_.get(), readBuf_.data(), len, readOffset_ + kEntryHeaderBytes) ||
      getU32(h + 16) != entryChecksum(nextTake_, readBuf_) || !decodeSpoolPayload(readBuf_, out)) {
    throw Error(fmt::format("the spool entry {} in {} is damaged", nextTake_, escaped(segmentPath(seg.firstSeq))));
  }
  readOffset_ += kEntryHeaderBytes + len;
  ++readSeq_;
}

void DiskSpool::loadLocked(size_t count, std::vector<Message>& out) {
  for (size_t i = 0; i < count; ++i, ++nextTake_) {
    if (!cache_.empty() && cache_.front().seq <= nextTake_) {
      const Cached& c = cache_[nextTake_ - cache_.front().seq];
      out.push_back(c.message);
      continue;
    }
    readNextLocked(out.emplace_back());
  }
}

size_t DiskSpool::releaseLocked(size_t count) {
  firstHeld_ += count;
  writeCursor();
  while (!cache_.empty() && cache_.front().seq < firstHeld_) {
    cacheBytes_ -= entryBytes(cache_.front().message);
    cache_.pop_front();
  }
  size_t freed = 0;
  // Whole segments the broker confirmed (the one being written stays until it is full).
  while (!segments_.empty() && segments_.front().firstSeq + segments_.front().entries <= firstHeld_ &&
         (segments_.size() > 1 || segments_.front().bytes >= segmentBytes_)) {
    const Segment seg = segments_.front();
    segments_.pop_front();
    if (readSegment_ == seg.firstSeq) {
      readFd_.reset();
      readSegment_ = UINT64_MAX;
    }
    if (segments_.empty()) writeFd_.reset();
    ::unlink(segmentPath(seg.firstSeq).c_str());
    freed += seg.bytes;
  }
  return freed;
}

void DiskSpool::rewindLocked() {
  nextTake_ = firstHeld_;
  readFd_.reset();
  readSegment_ = UINT64_MAX;
}

bool DiskSpool::fullLocked(size_t entryBytes) {
  if (bytes_ + entryBytes <= limits_.maxBytes) return false;
  if (firstHeld_ != nextSeq_) return true;
  // Everything was confirmed: the segment files left hold nothing needed any more.
  rewindLocked();
  for (const auto& s : segments_) ::unlink(segmentPath(s.firstSeq).c_str());
  segments_.clear();
  writeFd_.reset();
  bytes_ = 0;
  return false;
}

void DiskSpool::keepRefused(const Message& message, const std::string& reason) {
  std::vector<Record> records;
  std::string error;
  std::string lines;
  if (decodeRecords(message.body, message.headers, 0, records, error)) {
    for (const auto& r : records) {
      fmt::format_to(std::back_inserter(lines), "{}\t{}\t{}\n", escaped(r.id.empty() ? "-" : r.id), escaped(reason),
                     escaped(r.message));
    }
  } else {
    fmt::format_to(std::back_inserter(lines), "-\t{}\t{}\n", escaped(reason), escaped(message.body));
  }
  const std::string path = dir_ + "/refused.log";
  const UniqueFd fd = openFile(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!fd.valid() || !writeAll(fd.get(), lines)) {
    spdlog::error("cannot keep {} refused record(s) in {}: {}", records.size(), escaped(path), std::strerror(errno));
  }
}

std::string DiskSpool::refusedNote() const { return fmt::format(" (kept in {}/refused.log)", escaped(dir_)); }

// ---- DiskSpool: the queue its records are for ---------------------------------------------------

void DiskSpool::claimQueue(const std::string& queue) {
  const std::string path = dir_ + "/queue";
  std::string recorded;
  const bool known = std::filesystem::exists(path);
  if (known) {
    if (!readFile(path, recorded)) throw Error(errnoMessage("cannot read the spool's queue file", path, errno));
    if (recorded.empty()) throw Error(fmt::format("cannot read the spool's queue file {}: it is empty", escaped(path)));
    recorded.resize(std::min(recorded.size(), recorded.find('\n')));
  }
  if (known && recorded == queue) return;
  const uint64_t records = heldRecords();
  if (known && records > 0) {
    throw UsageError(fmt::format(
        "the spool {} holds {} record(s) for queue '{}', not for --queue '{}': run once with --queue '{}' to send "
        "them, or move the directory away",
        escaped(dir_), records, escaped(recorded), escaped(queue), escaped(recorded)));
  }
  if (!known && records > 0) {
    spdlog::info(
        "the spool {} (from a version that did not record its queue) holds {} record(s): sending them to "
        "queue '{}'",
        escaped(dir_), records, escaped(queue));
  }
  removeLeftoverTemps(path);  // a crash's, under our lock
  try {
    replaceFile(path, queue + "\n", 0600, true);
  } catch (const SystemError& e) {
    throw Error(fmt::format("cannot write the spool's queue file: {}", e.what()));
  }
}

std::unique_ptr<Spool> openSpool(const std::string& dir, SpoolLimits limits, const std::string& queue) {
  if (dir.empty()) return std::make_unique<MemorySpool>(limits);
  auto disk = std::make_unique<DiskSpool>(dir, limits);
  if (!queue.empty()) disk->claimQueue(queue);
  return disk;
}

}  // namespace logship
