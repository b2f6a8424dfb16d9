#include "search/file_scan.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <zstd.h>

#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship::search {
namespace {

constexpr size_t kDetectBytes = 64 * 1024;
constexpr size_t kDetectLines = 32;

std::string displayName(const std::string& path) { return path == "-" ? "(standard input)" : escaped(path); }

[[noreturn]] void throwErrno(const std::string& path, const char* what, int code) {
  throw FileError(fmt::format("{}: {}: {}", displayName(path), what, std::strerror(code)));
}

// ---- file descriptors and mappings (RAII) ----

class Mapping {
 public:
  Mapping(int fd, size_t size, const std::string& path) : size_(size) {
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) throwErrno(path, "cannot map", errno);
    data_ = static_cast<const char*>(p);
    ::madvise(p, size_, MADV_SEQUENTIAL);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return {data_, data_ == nullptr ? 0 : size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_;
};

// A mapped file that another process truncates (logrotate's copytruncate, say) makes the pages
// past its new end fault with SIGBUS. Nothing sensible can continue from there: say which file and
// stop (exit 2), instead of dying without a word. Only async-signal-safe calls in the handler.
char gBusMessage[512];
size_t gBusMessageLength = 0;

extern "C" void onBusError(int) {
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, gBusMessage, gBusMessageLength);
  ::_exit(2);
}

class BusErrorGuard {
 public:
  explicit BusErrorGuard(const std::string& path) {
    const std::string text = fmt::format(
        "\nlogctl: error: {}: the file shrank while it was being read (truncated or rotated with "
        "copytruncate?); stopped\n",
        displayName(path));
    gBusMessageLength = std::min(text.size(), sizeof gBusMessage);
    std::memcpy(gBusMessage, text.data(), gBusMessageLength);
    struct sigaction sa {};
    sa.sa_handler = onBusError;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &previous_);
  }
  BusErrorGuard(const BusErrorGuard&) = delete;
  BusErrorGuard& operator=(const BusErrorGuard&) = delete;
  ~BusErrorGuard() { ::sigaction(SIGBUS, &previous_, nullptr); }

 private:
  struct sigaction previous_ {};
};

// ---- byte sources for streamed input ----

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `cap` bytes into `dst`; 0 at the end. Throws FileError.
  virtual size_t read(char* dst, size_t cap) = 0;
};

// read(2) from a descriptor, after handing out `head` (bytes already read to look at the magic).
class FdSource final : public ByteSource {
 public:
  FdSource(int fd, std::string head, const std::string& path, uint64_t& counter)
      : fd_(fd), head_(std::move(head)), path_(path), counter_(counter) {}
  size_t read(char* dst, size_t cap) override {
    if (headPos_ < head_.size()) {
      const size_t n = std::min(cap, head_.size() - headPos_);
      std::memcpy(dst, head_.data() + headPos_, n);
      headPos_ += n;
      return n;
    }
    for (;;) {
      const ssize_t n = ::read(fd_, dst, cap);
      if (n >= 0) {
        counter_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) throwErrno(path_, "read error", errno);
    }
  }

 private:
  int fd_;
  std::string head_;
  size_t headPos_ = 0;
  const std::string& path_;
  uint64_t& counter_;
};

struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// libzstd streaming decompression of every frame in `in` (skippable frames are skipped).
class ZstdSource final : public ByteSource {
 public:
  ZstdSource(ByteSource& in, const std::string& path)
      : in_(in), path_(path), dctx_(ZSTD_createDCtx()), inBuf_(ZSTD_DStreamInSize(), '\0') {
    if (!dctx_) throw FileError(fmt::format("{}: cannot create a zstd decompression context", displayName(path)));
  }
  size_t read(char* dst, size_t cap) override {
    ZSTD_outBuffer out{dst, cap, 0};
    while (out.pos == 0) {
      if (input_.pos == input_.size && !inEnd_) {
        const size_t n = in_.read(inBuf_.data(), inBuf_.size());
        input_ = ZSTD_inBuffer{inBuf_.data(), n, 0};
        inEnd_ = n == 0;
      }
      const size_t consumedBefore = input_.pos;
      const size_t rc = ZSTD_decompressStream(dctx_.get(), &out, &input_);
      if (ZSTD_isError(rc)) {
        throw FileError(fmt::format("{}: corrupt zstd data: {}", displayName(path_), ZSTD_getErrorName(rc)));
      }
      const bool progressed = input_.pos != consumedBefore || out.pos != 0;
      if (progressed) frameOpen_ = rc != 0;  // 0: a frame ended and all of it was handed out
      if (!progressed && inEnd_) {
        if (frameOpen_) {
          throw FileError(
              fmt::format("{}: truncated zstd data: the compressed stream ends inside a frame", displayName(path_)));
        }
        return 0;
      }
    }
    return out.pos;
  }

 private:
  ByteSource& in_;
  const std::string& path_;
  std::unique_ptr<ZSTD_DCtx, DctxDeleter> dctx_;
  std::string inBuf_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  bool inEnd_ = false;
  bool frameOpen_ = false;
};

bool isZstd(std::string_view head) {
  if (head.size() < 4) return false;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  const uint32_t magic = b(0) | b(1) << 8 | b(2) << 16 | static_cast<uint32_t>(b(3)) << 24;
  return magic == ZSTD_MAGICNUMBER || (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

void refuseOtherCompression(std::string_view head, const std::string& path) {
  const char* kind = nullptr;
  if (head.starts_with("\x1f\x8b"))
    kind = "gzip";
  else if (head.starts_with(std::string_view("\xfd"
                                             "7zXZ\0",
                                             6)))
    kind = "xz";
  else if (head.starts_with("BZh"))
    kind = "bzip2";
  if (kind != nullptr) {
    throw FileError(
        fmt::format("{}: {}-compressed data: logctl search reads plain and zstd files (decompress it "
                    "into a pipe: ... | logctl search -)",
                    displayName(path), kind));
  }
}

// Reads up to `want` bytes (fewer only at the end of input).
std::string readHead(int fd, size_t want, const std::string& path, uint64_t& counter) {
  std::string head(want, '\0');
  size_t have = 0;
  while (have < want) {
    const ssize_t n = ::read(fd, head.data() + have, want - have);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno(path, "read error", errno);
    }
    have += static_cast<size_t>(n);
  }
  counter += have;
  head.resize(have);
  return head;
}

class FileScan {
 public:
  FileScan(const std::string& path, const Query& query, const Pattern* pattern, const ScanOptions& options,
           FileMatchSink& sink)
      : query_(query), pattern_(pattern), options_(options), sink_(sink) {
    report_.path = path;
  }

  // Picks the format and tells the sink; false if the file cannot match at all (raw + conditions).
  bool begin(std::string_view head) {
    report_.formatDetected = !options_.format.has_value();
    report_.format = options_.format ? *options_.format : detectFormat(head);
    if (report_.format == OutputFormat::Raw && query_.needsRecordParts()) {
      report_.lacksRecordParts = true;
      return false;
    }
    scanner_.emplace(query_, pattern_, report_.format);
    sink_.beginFile(report_);
    return true;
  }

  size_t scan(std::string_view bytes, bool final) {
    sink_.beginChunk(bytes, report_.bytesScanned);
    const size_t used = scanner_->scan(bytes, final, sink_);
    report_.bytesScanned += used;
    report_.counts = scanner_->counts();
    return used;
  }

  void progress() {
    if (options_.progress) options_.progress(report_);
  }

  FileReport& report() { return report_; }

 private:
  const Query& query_;
  const Pattern* pattern_;
  const ScanOptions& options_;
  FileMatchSink& sink_;
  FileReport report_;
  std::optional<Scanner> scanner_;
};

void scanMapped(FileScan& scan, int fd, size_t size, size_t chunk) {
  const std::string& path = scan.report().path;
  Mapping map(fd, size, path);
  BusErrorGuard guard(path);
  const std::string_view data = map.view();
  scan.report().bytesRead = size;
  if (!scan.begin(data.substr(0, kDetectBytes))) return;
  size_t pos = 0;
  while (pos < data.size()) {
    // A slice ends after a '\n' (or at the end), so no line is split between two calls.
    size_t end = std::min(data.size(), pos + chunk);
    if (end < data.size()) {
      const auto* nl = static_cast<const char*>(std::memchr(data.data() + end, '\n', data.size() - end));
      end = nl == nullptr ? data.size() : static_cast<size_t>(nl - data.data()) + 1;
    }
    pos += scan.scan(data.substr(pos, end - pos), end == data.size());
    scan.progress();
  }
}

void scanStream(FileScan& scan, ByteSource& source, size_t chunk) {
  std::string buf(chunk, '\0');
  size_t have = 0;
  bool end = false;
  bool begun = false;
  while (!end) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // one line longer than the buffer
    const size_t n = source.read(buf.data() + have, buf.size() - have);
    end = n == 0;
    have += n;
    if (!begun) {
      if (have < kDetectBytes && !end) continue;  // a pipe: gather a sample first
      begun = true;
      if (!scan.begin(std::string_view(buf.data(), std::min(have, kDetectBytes)))) {
        while (source.read(buf.data(), buf.size()) > 0) {
        }  // read to the end anyway: a corrupt or truncated file is still reported
        return;
      }
    }
    const size_t used = scan.scan(std::string_view(buf.data(), have), end);
    std::memmove(buf.data(), buf.data() + used, have - used);
    have -= used;
    scan.progress();
  }
}

}  // namespace

OutputFormat detectFormat(std::string_view head) {
  size_t lines = 0, json = 0, text = 0;
  LineParts parts;
  size_t pos = 0;
  while (pos < head.size() && lines < kDetectLines) {
    size_t nl = head.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (lines > 0) break;  // probably cut by the sample's end: judge by complete lines
      nl = head.size();
    }
    const std::string_view line = head.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    ++lines;
    if (parseLine(OutputFormat::Json, line, parts))
      ++json;
    else if (parseLine(OutputFormat::Text, line, parts))
      ++text;
  }
  if (lines == 0) return OutputFormat::Text;  // nothing to judge: no line will be scanned anyway
  if (json * 2 > lines) return OutputFormat::Json;
  if (text * 2 > lines) return OutputFormat::Text;
  return OutputFormat::Raw;
}

FileReport scanFile(const std::string& path, const Query& query, const Pattern* pattern, const ScanOptions& options,
                    FileMatchSink& sink) {
  FileScan scan(path, query, pattern, options, sink);
  FileReport& report = scan.report();
  const bool stdinInput = path == "-";
  // Standard input is read, never closed; a file is opened (a symbolic link named on the command
  // line is followed: the user chose it).
  UniqueFd opened = stdinInput ? UniqueFd() : openFile(path, O_RDONLY, 0, true);
  if (!stdinInput && !opened.valid()) throwErrno(path, "cannot open", errno);
  const int fd = stdinInput ? STDIN_FILENO : opened.get();
  struct stat st {};
  if (::fstat(fd, &st) != 0) throwErrno(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode)) throw FileError(fmt::format("{}: is a directory", displayName(path)));
  const size_t chunk = std::max<size_t>(options.chunkBytes, 1);
  if (S_ISREG(st.st_mode)) {
    report.fileBytes = static_cast<uint64_t>(st.st_size);
    char magic[6] = {};
    const ssize_t n = ::pread(fd, magic, sizeof magic, 0);
    if (n < 0) throwErrno(path, "read error", errno);
    const std::string_view head(magic, static_cast<size_t>(n));
    refuseOtherCompression(head, path);
    if (!isZstd(head)) {
      scanMapped(scan, fd, static_cast<size_t>(st.st_size), chunk);
      return report;
    }
  }
  // A pipe, or zstd data: streamed.
  std::string head = readHead(fd, 6, path, report.bytesRead);
  refuseOtherCompression(head, path);
  const bool zstd = isZstd(head);
  FdSource file(fd, std::move(head), path, report.bytesRead);
  if (zstd) {
    report.compression = Compression::Zstd;
    ZstdSource decompressed(file, path);
    scanStream(scan, decompressed, chunk);
  } else {
    scanStream(scan, file, chunk);
  }
  return report;
}

}  // namespace logship::search
