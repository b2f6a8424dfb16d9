#include "aggregator/file_sink.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/escape.hpp"

namespace logship {

UniqueFd FileSink::openPath() const {
  return openFile(path_, O_WRONLY | O_APPEND | O_CREAT, options_.mode, options_.allowSymlink);
}

void FileSink::failOpen(const char* what, int code) const {
  if (code == ELOOP && !options_.allowSymlink) {
    throw SinkError(fmt::format("{} {}: it is a symbolic link, and writing through it is refused (give "
                                "--allow-symlink-output to write to the file it points to)",
                                what, escaped(path_)),
                    code);
  }
  throw SinkError(errnoMessage(what, path_, code), code);
}

FileSink::FileSink(std::string path, OutputFileOptions options)
    : path_(std::move(path)), options_(options), fd_(openPath()) {
  if (!fd_.valid()) failOpen("cannot open output", errno);
}

FileSink::~FileSink() {
  if (hasPending()) discard();
}

void FileSink::append(std::string_view lines) { pending_.append(lines); }

size_t FileSink::completeBytes() const { return lineStart(); }

size_t FileSink::lineStart() const {
  if (written_ == 0) return 0;
  const size_t newline = pending_.rfind('\n', written_ - 1);
  return newline == std::string::npos ? 0 : newline + 1;
}

void FileSink::enableDedup(IdJournalOptions options) {
  if (options.window == 0) return;
  options.fileMode = options_.mode;
  journal_ = std::make_unique<IdJournal>(path_ + ".ids", path_, fd_.get(), options);
}

void FileSink::journalAhead() {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) fail(errno, false);
  // With O_APPEND (and one writer) the rest lands at the file's end; a cut line's fragment is
  // right before it, so the first incomplete line starts that many bytes earlier.
  const size_t from = lineStart();
  const off_t offset = st.st_size - static_cast<off_t>(written_ - from);
  try {
    journal_->beforeWrite(st.st_dev, st.st_ino, offset, from, pending_.size());
  } catch (const SinkError& e) {
    lastError_ = e.code() != 0 ? e.code() : EIO;
    throw;
  }
}

void FileSink::flush(bool durable) {
  writePending(durable);
  if (outputDeleted()) {
    // `rm out.txt` mid-stream: what we just wrote is only in an unlinked file, and flush()
    // returning lets the caller acknowledge it. Write the batch again to a new file at the path
    // first (its copy in the deleted file is harmless; a lost record is not).
    const size_t bytes = pending_.size();
    reopenDeleted();
    spdlog::warn(
        "{} was deleted while being written: created it again and wrote the last batch ({} bytes) to it; "
        "records written to it before were deleted with it",
        escaped(path_), bytes);
    writePending(durable);
    if (durable) syncDirectoryOf(path_);  // the new file's name survives a power loss too
  }
  pending_.clear();
  written_ = 0;
  lastError_ = 0;
  tornEnd_ = -1;
  if (journal_) journal_->batchWritten();
}

void FileSink::writePending(bool durable) {
  if (lastError_ != 0) prepareRetry();
  if (journal_ && written_ < pending_.size()) journalAhead();
  const size_t before = written_;
  while (written_ < pending_.size()) {
    const ssize_t n = ::write(fd_.get(), pending_.data() + written_, pending_.size() - written_);
    if (n < 0 && errno == EINTR) continue;
    // A regular file never takes 0 bytes of a non-empty write; treat it as an I/O error, not a loop.
    if (n <= 0) fail(n < 0 ? errno : EIO, written_ > before);
    written_ += static_cast<size_t>(n);
    bytesWritten_.inc(static_cast<uint64_t>(n));
  }
  if (durable && ::fdatasync(fd_.get()) != 0) {
    // After a failed fdatasync, Linux may have dropped the dirty pages and a second fdatasync can
    // succeed without them: write the whole batch again rather than trust it.
    const int code = errno;
    lastError_ = code;
    written_ = 0;
    tornEnd_ = -1;
    throw SinkError(fmt::format("cannot sync {} (fdatasync): {}", escaped(path_), std::strerror(code)), code);
  }
}

bool FileSink::outputDeleted() const {
  struct stat st {};
  return ::fstat(fd_.get(), &st) == 0 && st.st_nlink == 0;
}

void FileSink::reopenDeleted() {
  UniqueFd fresh = openPath();
  if (!fresh.valid()) {
    // The batch stays pending and counts as not written: the next flush (a retry) opens the path.
    const int code = errno;
    lastError_ = code;
    written_ = 0;
    tornEnd_ = -1;
    failOpen("cannot create the deleted output", code);
  }
  fd_ = std::move(fresh);
  written_ = 0;
  tornEnd_ = -1;
  journalNewFile();
}

void FileSink::fail(int code, bool progressed) {
  lastError_ = code;
  // With O_APPEND the offset after our last write is where our bytes end. Kept from an earlier
  // attempt if this one wrote nothing (a reopened descriptor's offset says nothing yet).
  if (progressed) tornEnd_ = torn() ? ::lseek(fd_.get(), 0, SEEK_CUR) : -1;
  throw SinkError(errnoMessage("cannot write to", path_, code), code);
}

void FileSink::prepareRetry() {
  struct stat byFd {};
  const bool haveFd = ::fstat(fd_.get(), &byFd) == 0;
  bool replaced = false;
  struct stat byPath {};
  if (::stat(path_.c_str(), &byPath) == 0) {
    replaced = haveFd && (byPath.st_dev != byFd.st_dev || byPath.st_ino != byFd.st_ino);
  } else {
    replaced = errno == ENOENT || errno == ENOTDIR;  // other errors (EACCES...) tell nothing
  }
  const bool deadFd = !haveFd || lastError_ == EIO || lastError_ == EBADF || lastError_ == ESTALE;

  if (torn()) {
    if (replaced) {
      if (finishLine()) {
        spdlog::info("completed the last line of the old {} before opening the new one", escaped(path_));
      } else {
        written_ = lineStart();
        spdlog::warn(
            "{} was deleted or renamed while its last line was incomplete: that fragment stays in the old "
            "file, and the line is written whole to the new one",
            escaped(path_));
      }
    } else if (haveFd && tornEnd_ >= 0 && byFd.st_size != tornEnd_) {
      written_ = lineStart();
      spdlog::warn(
          "{} changed size while our last line in it was incomplete (another writer?): writing that line "
          "again whole after the new bytes; the fragment stays in front of them",
          escaped(path_));
    }
  }

  if (replaced || deadFd) {
    UniqueFd fresh = openPath();
    if (!fresh.valid()) {
      const int code = errno;
      lastError_ = code;
      failOpen("cannot reopen", code);
    }
    fd_ = std::move(fresh);
    tornEnd_ = torn() ? tornEnd_ : -1;
    spdlog::warn("reopened {} ({})", escaped(path_),
                 replaced ? "the path no longer named the file we had open: deleted or renamed"
                          : fmt::format("after {}", std::strerror(lastError_)));
  }
}

bool FileSink::finishLine() {
  const size_t newline = pending_.find('\n', written_);
  const size_t end = newline == std::string::npos ? pending_.size() : newline + 1;
  while (written_ < end) {
    const ssize_t n = ::write(fd_.get(), pending_.data() + written_, end - written_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written_ += static_cast<size_t>(n);
    bytesWritten_.inc(static_cast<uint64_t>(n));
  }
  return true;
}

void FileSink::discard() noexcept {
  if (journal_) journal_->batchDiscarded(lineStart());
  if (torn()) {
    const auto fragment = static_cast<off_t>(written_ - lineStart());
    struct stat st {};
    if (tornEnd_ >= 0 && ::fstat(fd_.get(), &st) == 0 && st.st_size == tornEnd_) {
      if (::ftruncate(fd_.get(), tornEnd_ - fragment) == 0) {
        spdlog::info("cut the incomplete last line ({} bytes) off {}", fragment, escaped(path_));
      } else {
        spdlog::warn("{} ends with an incomplete line of {} bytes: cannot cut it off: {}", escaped(path_), fragment,
                     std::strerror(errno));
      }
    } else {
      spdlog::warn("{} holds an incomplete line of {} bytes that cannot be cut off (bytes were appended after it)",
                   escaped(path_), fragment);
    }
  }
  pending_.clear();
  written_ = 0;
  lastError_ = 0;
  tornEnd_ = -1;
}

}  // namespace logship

namespace logship {

off_t FileSink::fileSize() const {
  struct stat st {};
  return ::fstat(fd_.get(), &st) == 0 ? st.st_size : -1;
}

int64_t FileSink::fileModifiedSeconds() const {
  struct stat st {};
  return ::fstat(fd_.get(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

bool FileSink::pathNamesOurFile() const {
  struct stat byFd {};
  struct stat byPath {};
  return ::fstat(fd_.get(), &byFd) == 0 && ::stat(path_.c_str(), &byPath) == 0 && byFd.st_dev == byPath.st_dev &&
         byFd.st_ino == byPath.st_ino;
}

bool FileSink::journalNamesOutput() const { return !journal_ || journal_->namesOutput(); }

void FileSink::journalNewFile() noexcept {
  if (!journal_) return;
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return;  // the next journaled write names it
  try {
    journal_->outputReplaced(st.st_dev, st.st_ino);
  } catch (const std::exception& e) {
    spdlog::warn("{}; the next write will name the new output in it", e.what());
  }
}

FileSink::Switch FileSink::rotateTo(const std::string& rotatedPath) {
  if (!pathNamesOurFile()) return Switch::NotOurFile;
  // Never replace a file: the name must be new (another rotation in the same second takes the next).
  if (::renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, rotatedPath.c_str(), RENAME_NOREPLACE) != 0) {
    int code = errno;
    if (code == EEXIST) return Switch::NameTaken;
    if (code == EINVAL || code == ENOSYS) {  // a file system without RENAME_NOREPLACE
      struct stat st {};
      if (::lstat(rotatedPath.c_str(), &st) == 0) return Switch::NameTaken;
      code = ::rename(path_.c_str(), rotatedPath.c_str()) == 0 ? 0 : errno;
    }
    if (code != 0) {
      throw SinkError(fmt::format("cannot rotate {}: renaming it to {}: {}", escaped(path_), escaped(rotatedPath),
                                  std::strerror(code)),
                      code);
    }
  }
  UniqueFd fresh = openPath();
  if (!fresh.valid()) {
    const int code = errno;
    // Go on writing to the old file under its old name.
    if (::renameat2(AT_FDCWD, rotatedPath.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
      spdlog::error("cannot rename {} back to {}: {}; writing on to it under its new name", escaped(rotatedPath),
                    escaped(path_), std::strerror(errno));
    }
    throw SinkError(fmt::format("cannot rotate {}: creating a new output: {}", escaped(path_), std::strerror(code)),
                    code);
  }
  fd_ = std::move(fresh);
  syncDirectoryOf(path_);
  journalNewFile();
  return Switch::Done;
}

bool FileSink::reopen() {
  if (pathNamesOurFile()) return false;
  UniqueFd fresh = openPath();
  if (!fresh.valid()) failOpen("cannot reopen", errno);
  fd_ = std::move(fresh);
  journalNewFile();
  return true;
}

}  // namespace logship
