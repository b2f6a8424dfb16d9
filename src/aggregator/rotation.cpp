#include "aggregator/rotation.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/escape.hpp"
#include "core/file.hpp"
#include "core/io.hpp"
#include "core/units.hpp"

namespace logship {
namespace {

namespace fs = std::filesystem;

// After a failed rotation, the next attempt waits this long (the output keeps growing meanwhile).
constexpr std::chrono::seconds kRotateRetry{30};

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string inDirectoryOf(const std::string& outputPath, const std::string& fileName) {
  const fs::path dir = fs::path(outputPath).parent_path();
  return dir.empty() ? fileName : (dir / fileName).string();
}

struct CctxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

[[noreturn]] void fail(const std::string& what, const std::string& path, int code) {
  throw Error(errnoMessage(what, path, code));
}

void checkZstd(size_t rc, const std::string& path) {
  if (ZSTD_isError(rc)) throw Error(fmt::format("cannot compress {}: {}", escaped(path), ZSTD_getErrorName(rc)));
}

}  // namespace

int64_t nextIntervalBoundary(int64_t unixSeconds, std::chrono::seconds interval) {
  const int64_t i = interval.count();
  if (i <= 0) return INT64_MAX;
  int64_t floor = unixSeconds / i * i;
  if (floor > unixSeconds) floor -= i;  // before the epoch: round down, not toward zero
  return floor + i;
}

// ---- Retention -------------------------------------------------------------------------------------

std::vector<RotatedName> selectExpired(const std::vector<RotatedFile>& files, size_t keep, std::chrono::seconds maxAge,
                                       int64_t nowSeconds) {
  std::vector<RotatedName> rotations;
  rotations.reserve(files.size());
  for (const RotatedFile& f : files) rotations.push_back({f.name.unixSeconds, f.name.counter, false});
  std::sort(rotations.begin(), rotations.end());
  rotations.erase(std::unique(rotations.begin(), rotations.end(),
                              [](const RotatedName& a, const RotatedName& b) { return a.sameRotation(b); }),
                  rotations.end());
  std::vector<RotatedName> expired;
  for (size_t i = 0; i < rotations.size(); ++i) {
    const bool tooMany = keep > 0 && rotations.size() - i > keep;
    const bool tooOld = maxAge.count() > 0 && nowSeconds - rotations[i].unixSeconds >= maxAge.count();
    if (tooMany || tooOld) expired.push_back(rotations[i]);
  }
  return expired;
}

std::vector<RotatedFile> listRotatedFiles(const std::string& outputPath, std::vector<RotatedFile>* temps) {
  const std::string outputName = fs::path(outputPath).filename().string();
  std::vector<RotatedFile> files;
  std::error_code ec;
  for (fs::directory_iterator it(directoryOf(outputPath), ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (auto n = parseRotatedName(outputName, name)) {
      files.push_back({std::move(name), *n});
    } else if (auto t = temps != nullptr ? parseCompressionTempName(outputName, name) : std::nullopt) {
      temps->push_back({std::move(name), *t});
    }
  }
  if (ec) spdlog::warn("cannot list the directory of {}: {}", escaped(outputPath), ec.message());
  std::sort(files.begin(), files.end(), [](const RotatedFile& a, const RotatedFile& b) {
    return a.name < b.name || (a.name.sameRotation(b.name) && !a.name.compressed && b.name.compressed);
  });
  return files;
}

// ---- Compression -----------------------------------------------------------------------------------

uint64_t compressRotatedFile(const std::string& outputPath, const RotatedName& name, int level) {
  const std::string outputName = fs::path(outputPath).filename().string();
  RotatedName plainName = name;
  plainName.compressed = false;
  RotatedName zstName = name;
  zstName.compressed = true;
  const std::string src = inDirectoryOf(outputPath, rotatedFileName(outputName, plainName));
  const std::string dst = inDirectoryOf(outputPath, rotatedFileName(outputName, zstName));
  const std::string tmp = inDirectoryOf(outputPath, compressionTempName(outputName, name));

  const UniqueFd in = openFile(src, O_RDONLY);
  if (!in.valid()) fail("cannot open", src, errno);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) fail("cannot stat", src, errno);
  ::unlink(tmp.c_str());  // a crash's leftover
  UniqueFd out = openFile(tmp, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 07777);
  if (!out.valid()) fail("cannot create", tmp, errno);
  try {
    std::unique_ptr<ZSTD_CCtx, CctxDeleter> cctx(ZSTD_createCCtx());
    if (!cctx) throw Error("cannot create a zstd compression context");
    checkZstd(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level), src);
    checkZstd(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1), src);
    checkZstd(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), static_cast<unsigned long long>(st.st_size)), src);
    std::string inBuf(1 << 20, '\0');
    std::string outBuf(ZSTD_CStreamOutSize(), '\0');
    uint64_t written = 0;
    auto drain = [&](ZSTD_inBuffer& input, ZSTD_EndDirective mode) {
      for (;;) {
        ZSTD_outBuffer output{outBuf.data(), outBuf.size(), 0};
        const size_t left = ZSTD_compressStream2(cctx.get(), &output, &input, mode);
        checkZstd(left, src);
        if (!writeAll(out.get(), std::string_view(outBuf.data(), output.pos))) fail("cannot write", tmp, errno);
        written += output.pos;
        if (mode == ZSTD_e_end ? left == 0 : input.pos == input.size) return;
      }
    };
    for (;;) {
      const ssize_t n = ::read(in.get(), inBuf.data(), inBuf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot read", src, errno);
      ZSTD_inBuffer input{inBuf.data(), static_cast<size_t>(n), 0};
      if (n == 0) {
        drain(input, ZSTD_e_end);
        break;
      }
      drain(input, ZSTD_e_continue);
    }
    // Owner-only modes survive the umask, and `ls -l` shows when the records were last written.
    ::fchmod(out.get(), st.st_mode & 07777);
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(out.get(), times);
    if (::fsync(out.get()) != 0) fail("cannot sync", tmp, errno);
    if (!out.close()) fail("cannot close", tmp, errno);
    if (::rename(tmp.c_str(), dst.c_str()) != 0) fail("cannot rename to " + escaped(dst) + ":", tmp, errno);
    syncDirectoryOf(dst);
    if (::unlink(src.c_str()) != 0 && errno != ENOENT) fail("cannot remove", src, errno);
    return written;
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

// ---- The rotator -----------------------------------------------------------------------------------

OutputRotator::OutputRotator(FileSink& sink, RotationOptions options)
    : sink_(sink), options_(options), outputName_(fs::path(sink.path()).filename().string()) {
  // Whatever the options: a compression temporary of this output is a crash's leftover (its
  // uncompressed file, or its finished .zst, is still there).
  std::vector<RotatedFile> temps;
  const std::vector<RotatedFile> rotated = listRotatedFiles(sink_.path(), &temps);
  for (const RotatedFile& t : temps) {
    const std::string path = inDirectoryOf(sink_.path(), t.fileName);
    if (::unlink(path.c_str()) == 0) {
      spdlog::info("removed {}, an unfinished compression (the uncompressed file is kept)", escaped(path));
    }
  }
  if (!options_.rotates()) return;
  if (!rotated.empty()) lastRotation_ = rotated.back().name;  // sorted: the newest
  if (options_.interval.count() > 0) {
    // A non-empty output last written before the current interval began is rotated at once.
    const int64_t from = sink_.fileSize() > 0 ? sink_.fileModifiedSeconds() : unixNow();
    nextBoundary_ = nextIntervalBoundary(from, options_.interval);
  }
  if (options_.compress) {
    for (const RotatedFile& f : rotated) {
      if (f.name.compressed) continue;
      const bool hasZst = std::any_of(rotated.begin(), rotated.end(), [&](const RotatedFile& o) {
        return o.name.compressed && o.name.sameRotation(f.name);
      });
      // A crash left it uncompressed (with a finished .zst beside it if it came after the rename:
      // compressing again replaces that one, as good).
      spdlog::info("{} was left uncompressed{}: compressing it", escaped(f.fileName),
                   hasZst ? " (beside its finished .zst)" : "");
      queue_.push_back(f.name);
    }
  }
  worker_ = std::thread([this] { work(); });
}

OutputRotator::~OutputRotator() {
  try {
    finish();
  } catch (...) {  // logged by finish
  }
}

RotatorStats OutputRotator::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void OutputRotator::betweenCommits(size_t upcomingBytes, bool reopenRequested) noexcept {
  try {
    if (reopenRequested) reopen();
    if (!awaitingJournal_.empty() && sink_.journalNamesOutput()) {
      for (const RotatedName& n : awaitingJournal_) enqueue(n);
      awaitingJournal_.clear();
    }
    if (!options_.rotates()) return;
    const int64_t now = unixNow();
    const off_t size = sink_.fileSize();
    if (options_.maxBytes > 0 && size > 0 && static_cast<uint64_t>(size) + upcomingBytes > options_.maxBytes) {
      rotate(now, "--rotate-bytes");
    } else if (options_.interval.count() > 0 && now >= nextBoundary_) {
      if (size > 0) {
        rotate(now, "--rotate-interval");
      } else {
        nextBoundary_ = nextIntervalBoundary(now, options_.interval);
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("output maintenance failed: {}", e.what());
  }
}

bool OutputRotator::rotationFailedRecently() const {
  return lastRotateFailure_ != std::chrono::steady_clock::time_point{} &&
         std::chrono::steady_clock::now() - lastRotateFailure_ < kRotateRetry;
}

void OutputRotator::rotate(int64_t now, const char* why) {
  if (rotationFailedRecently()) return;
  // Names never go back in time, even when retention deleted the newest names of this second or
  // the clock was set back: they must keep sorting in the order the files were written.
  RotatedName name{now, 0, false};
  if (lastRotation_ && now <= lastRotation_->unixSeconds) {
    name = {lastRotation_->unixSeconds, lastRotation_->counter + 1, false};
  }
  try {
    for (;; ++name.counter) {
      RotatedName zst = name;
      zst.compressed = true;
      struct stat st {};
      // A compressed file of that name (an earlier rotation in this second, already compressed)
      // takes the name too: its uncompressed name is free, but compressing would replace it.
      if (::lstat(inDirectoryOf(sink_.path(), rotatedFileName(outputName_, zst)).c_str(), &st) == 0) continue;
      const std::string rotatedPath = inDirectoryOf(sink_.path(), rotatedFileName(outputName_, name));
      const off_t size = sink_.fileSize();
      const FileSink::Switch result = sink_.rotateTo(rotatedPath);
      if (result == FileSink::Switch::NameTaken) continue;
      if (result == FileSink::Switch::NotOurFile) {
        // Renamed by someone else (logrotate without a SIGHUP yet): that file is theirs; go on in
        // a new one at the path.
        spdlog::warn(
            "{} no longer names the file being written (renamed by another program?): not rotating it, "
            "reopening the path instead",
            escaped(sink_.path()));
        reopen();
        nextBoundary_ = nextIntervalBoundary(now, options_.interval);
        return;
      }
      {
        std::lock_guard lock(mu_);
        ++stats_.rotations;
      }
      lastRotation_ = name;
      lastRotateFailure_ = {};
      nextBoundary_ = nextIntervalBoundary(now, options_.interval);
      spdlog::info("rotated {} ({}, {}) to {}{}", escaped(sink_.path()), formatByteSize(static_cast<uint64_t>(size)),
                   why, escaped(rotatedPath), options_.compress ? "; compressing it in the background" : "");
      if (!sink_.journalNamesOutput()) {
        awaitingJournal_.push_back(name);  // the journal's last write is in it: keep it as it is for now
      } else {
        enqueue(name);
      }
      return;
    }
  } catch (const std::exception& e) {
    lastRotateFailure_ = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      ++stats_.failures;
    }
    spdlog::error("{}; writing on to the current file, next attempt in {} s", e.what(), kRotateRetry.count());
  }
}

void OutputRotator::reopen() {
  try {
    if (sink_.reopen()) {
      std::lock_guard lock(mu_);
      ++stats_.reopens;
      spdlog::info("reopened {} (SIGHUP): the path names a new file, writing there", escaped(sink_.path()));
    } else {
      spdlog::info("SIGHUP: {} still names the file being written: nothing to reopen", escaped(sink_.path()));
    }
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(mu_);
      ++stats_.failures;
    }
    spdlog::error("{}; writing on to the file already open (send SIGHUP again to retry)", e.what());
  }
}

void OutputRotator::enqueue(const RotatedName& name) {
  {
    std::lock_guard lock(mu_);
    if (options_.compress) {
      queue_.push_back(name);
    } else {
      retentionDue_ = true;
    }
  }
  wake_.notify_one();
}

void OutputRotator::finish() {
  if (!awaitingJournal_.empty()) {
    // The journal never got to name the new output: leave these uncompressed (the next start
    // checks the last write in them and compresses them then).
    spdlog::warn("{} rotated file(s) left uncompressed: the duplicate journal could not be written",
                 awaitingJournal_.size());
    awaitingJournal_.clear();
  }
  {
    std::lock_guard lock(mu_);
    if (!worker_.joinable()) return;
    stopping_ = true;
    if (!queue_.empty()) spdlog::info("compressing {} rotated file(s) before exiting", queue_.size());
  }
  wake_.notify_one();
  worker_.join();
}

void OutputRotator::work() {
  // Compression runs beside the write path on the same cores: it yields to it.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  std::unique_lock lock(mu_);
  retentionDue_ = true;  // at start too: files may have expired while we were down
  for (;;) {
    wake_.wait_for(lock, options_.retentionPeriod, [&] { return stopping_ || retentionDue_ || !queue_.empty(); });
    if (!queue_.empty()) {
      const RotatedName name = queue_.front();
      queue_.pop_front();
      lock.unlock();
      compressOne(name);
      applyRetention();
      lock.lock();
      continue;
    }
    // The period passed, a rotation without compression, or stopping: retention, once more.
    const bool stop = stopping_;
    retentionDue_ = false;
    lock.unlock();
    applyRetention();
    lock.lock();
    if (stop) break;
  }
}

void OutputRotator::compressOne(const RotatedName& name) {
  RotatedName plain = name;
  plain.compressed = false;
  const std::string path = inDirectoryOf(sink_.path(), rotatedFileName(outputName_, plain));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // deleted meanwhile (retention)
  try {
    const auto started = std::chrono::steady_clock::now();
    const uint64_t bytes = compressRotatedFile(sink_.path(), name, options_.compressionLevel);
    spdlog::debug("compressed {} ({} -> {}) in {:.2f} s", escaped(path),
                  formatByteSize(static_cast<uint64_t>(st.st_size)), formatByteSize(bytes),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    std::lock_guard lock(mu_);
    ++stats_.compressed;
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(mu_);
      ++stats_.failures;
    }
    spdlog::error("{}: {} stays uncompressed (complete; the next start compresses it)", e.what(), escaped(path));
  }
}

void OutputRotator::applyRetention() {
  if (options_.keep == 0 && options_.maxAge.count() == 0) return;
  const std::vector<RotatedFile> files = listRotatedFiles(sink_.path());
  const int64_t now = unixNow();
  const std::vector<RotatedName> expired = selectExpired(files, options_.keep, options_.maxAge, now);  // sorted
  for (const RotatedFile& f : files) {
    if (!std::binary_search(expired.begin(), expired.end(), f.name)) continue;
    const bool tooOld = options_.maxAge.count() > 0 && now - f.name.unixSeconds >= options_.maxAge.count();
    const std::string path = inDirectoryOf(sink_.path(), f.fileName);
    if (::unlink(path.c_str()) == 0) {
      spdlog::info("deleted {} ({})", escaped(path),
                   tooOld ? fmt::format("--max-age {}", formatDuration(options_.maxAge))
                          : fmt::format("--keep {}", options_.keep));
      std::lock_guard lock(mu_);
      ++stats_.deleted;
    } else if (errno != ENOENT) {
      spdlog::warn("cannot delete {} (retention): {}", escaped(path), std::strerror(errno));
    }
  }
}

}  // namespace logship
