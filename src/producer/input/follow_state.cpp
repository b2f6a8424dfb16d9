#include "producer/input/follow_state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"
#include "core/io.hpp"

namespace logship {
namespace {

constexpr std::string_view kMagic = "logship-follow-state";
constexpr int kVersion = 2;

template <class T>
bool parseNumber(std::string_view text, T& out, int base = 10) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// The next space-separated word of `rest` (which then starts after the space).
std::string_view word(std::string_view& rest) {
  const size_t sp = rest.find(' ');
  const std::string_view w = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return w;
}

}  // namespace

uint64_t fnv1a(std::string_view data) {
  uint64_t h = Fingerprint{}.hash;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

Fingerprint fingerprintOf(std::string_view head) {
  head = head.substr(0, Fingerprint::kBytes);
  return Fingerprint{head.size(), fnv1a(head)};
}

std::optional<std::string> readHead(int fd, uint64_t size) {
  std::string head(std::min<uint64_t>(size, Fingerprint::kBytes), '\0');
  size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;  // shorter than its size said: truncated meanwhile
    got += static_cast<size_t>(n);
  }
  head.resize(got);
  return head;
}

bool sameContent(const Fingerprint& known, std::string_view head) {
  if (head.size() < known.bytes) return false;
  return fnv1a(head.substr(0, known.bytes)) == known.hash;
}

StartDecision decideStart(const FollowEntry* entry, std::string_view head, uint64_t size, uint64_t endOfLastLine,
                          bool stateExisted, bool fromBeginning, bool firstScan) {
  using Why = StartDecision::Why;
  if (entry != nullptr) {
    if (!sameContent(entry->fingerprint, head)) {
      // Shorter than the bytes we hashed: cut (copytruncate); as long: other content on the inode.
      return {size < entry->fingerprint.bytes ? Why::Truncated : Why::InodeReused, 0};
    }
    if (size < entry->offset) return {Why::Truncated, 0};
    return {Why::Resumed, entry->offset};
  }
  if (firstScan && !stateExisted && !fromBeginning) return {Why::AtEnd, endOfLastLine};
  return {Why::New, 0};
}

uint64_t newStreamId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id;
}

std::string streamPrefix(uint64_t stream) { return fmt::format("file-{:016x}", stream); }

// ---- the state file's text -----------------------------------------------------------------------

std::string formatFollowState(const std::vector<FollowEntry>& entries) {
  std::string out = fmt::format(
      "{} {}\n# Written by log_producer --follow; read again at its start. One file per line:\n"
      "# DEVICE INODE FINGERPRINT-BYTES FINGERPRINT OFFSET STREAM LINE PATH (docs/FORMATS.md)\n",
      kMagic, kVersion);
  for (const auto& e : entries) {
    fmt::format_to(std::back_inserter(out), "{} {} {} {:016x} {} {:016x} {} ", e.key.dev, e.key.ino,
                   e.fingerprint.bytes, e.fingerprint.hash, e.offset, e.stream, e.line);
    appendEscaped(out, e.path);
    out += '\n';
  }
  return out;
}

std::vector<FollowEntry> parseFollowState(std::string_view text, const std::string& path) {
  std::vector<FollowEntry> entries;
  size_t lineNo = 0;
  auto fail = [&](const std::string& why) {
    return Error(fmt::format("state file {}:{}: {}", escaped(path), lineNo, why));
  };
  bool sawHeader = false;
  int version = 0;
  while (!text.empty()) {
    ++lineNo;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) throw fail("the last line is incomplete (the file was cut)");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (!sawHeader) {
      std::string_view rest = line;
      if (word(rest) != kMagic) {
        throw fail(fmt::format("not a log_producer state file (it does not start with '{} {}')", kMagic, kVersion));
      }
      if (!parseNumber(rest, version)) throw fail(fmt::format("'{}' is not a version number", escaped(rest)));
      if (version != 1 && version != kVersion) {
        throw fail(
            fmt::format("version {} is not supported (this log_producer reads versions 1 and {})", version, kVersion));
      }
      sawHeader = true;
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    std::string_view rest = line;
    FollowEntry e;
    const std::string_view dev = word(rest), ino = word(rest), fpBytes = word(rest), fp = word(rest),
                           offset = word(rest);
    const bool v2 = version >= 2;
    const std::string_view stream = v2 ? word(rest) : "", lineNumber = v2 ? word(rest) : "";
    if (!parseNumber(dev, e.key.dev) || !parseNumber(ino, e.key.ino) || !parseNumber(fpBytes, e.fingerprint.bytes) ||
        fp.size() != 16 || !parseNumber(fp, e.fingerprint.hash, 16) || !parseNumber(offset, e.offset) ||
        (v2 && (stream.size() != 16 || !parseNumber(stream, e.stream, 16) || !parseNumber(lineNumber, e.line))) ||
        rest.empty()) {
      throw fail(fmt::format("expected 'DEVICE INODE FINGERPRINT-BYTES FINGERPRINT OFFSET{} PATH', not '{}'",
                             v2 ? " STREAM LINE" : "", escaped(line.substr(0, 200))));
    }
    if (e.fingerprint.bytes > Fingerprint::kBytes) {
      throw fail(fmt::format("fingerprint of {} bytes: at most {}", e.fingerprint.bytes, Fingerprint::kBytes));
    }
    appendUnescaped(e.path, rest);
    entries.push_back(std::move(e));
  }
  if (!sawHeader) {
    lineNo = 1;
    throw fail("the file is empty (a state file starts with its version line)");
  }
  return entries;
}

// ---- the file on disk -------------------------------------------------------------------------------

FollowStateFile::FollowStateFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) {
    try {
      createDirectories(parent.string(), kDefaultDirectoryMode);
    } catch (const SystemError& e) {
      throw Error(fmt::format("cannot create the directory of the state file {}: {}", escaped(path_), e.what()));
    }
  }
  const std::string lockPath = path_ + ".lock";
  lock_ = lockFile(lockPath, 0600);
  if (!lock_.valid() && errno == EWOULDBLOCK) {
    throw Error(fmt::format("the state file {} is in use by another log_producer (lock {})", escaped(path_),
                            escaped(lockPath)));
  }
  if (!lock_.valid()) throw Error(errnoMessage("cannot lock the state file", lockPath, errno));
  std::string text;
  if (!readFile(path_, text)) {
    if (errno == ENOENT) return;  // the first run
    throw Error(errnoMessage("cannot read the state file", path_, errno));
  }
  try {
    loaded_ = parseFollowState(text, path_);
  } catch (const Error& e) {
    throw Error(
        fmt::format("{} (repair or remove it; without it the followed files are read again from their end, "
                    "or with --from-beginning from their beginning)",
                    e.what()));
  }
  existed_ = true;
}

void FollowStateFile::save(const std::vector<FollowEntry>& entries) {
  // A fresh temporary beside it (O_EXCL, random name), fsynced, renamed over it, the directory
  // synced: a link planted anywhere near is never written through.
  try {
    replaceFile(path_, formatFollowState(entries), 0600, true);
  } catch (const SystemError& e) {
    throw Error(fmt::format("cannot write the state file: {}", e.what()));
  }
  existed_ = true;
}

}  // namespace logship
