#pragma once
// The POSIX file layer every part that creates or replaces a file uses (spool, duplicate journal,
// follow state, output sinks, rotation, search): one owner type for a descriptor, and creation that
// never writes through a symbolic link. The rules it enforces: docs/SECURITY.md#files.
#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace logship {

// Default modes of what Logship creates (the umask still applies): logs and journals are readable
// by the owner's group only, directories likewise; the producer's spool (unsent records) is private.
inline constexpr mode_t kDefaultFileMode = 0640;
inline constexpr mode_t kDefaultDirectoryMode = 0750;
inline constexpr mode_t kPrivateDirectoryMode = 0700;

// A system call on a file failed: what() names the operation and the path; code() is the errno.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int code) : Error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// "WHAT PATH: strerror(code)" (the path escaped), the one shape of every file error line.
std::string errnoMessage(std::string_view what, const std::string& path, int code);
[[noreturn]] void throwSystemError(std::string_view what, const std::string& path, int code);

// Owns one file descriptor (move-only); closes it when destroyed. -1: none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() noexcept;
  void reset(int fd = -1) noexcept;  // closes the one held (errors ignored)
  // Closes now and reports close(2)'s result (false with errno set): for files just written, where
  // a failed close may mean lost data.
  bool close() noexcept;

 private:
  int fd_ = -1;
};

// open(2), close-on-exec, never following a symbolic link at the path's last component (ELOOP)
// unless `followLink`. Invalid with errno set on failure.
UniqueFd openFile(const std::string& path, int flags, mode_t mode = kDefaultFileMode, bool followLink = false);

// The whole content of the file at `path` (a symbolic link followed) into `out`. False with errno
// set if it cannot be opened or read.
bool readFile(const std::string& path, std::string& out);

// open(2) of a lock file (created with `mode` if missing, never through a symbolic link) and an
// exclusive flock(2) on it without waiting. Invalid with errno set on failure: EWOULDBLOCK when
// another process holds the lock.
UniqueFd lockFile(const std::string& path, mode_t mode);

// The directory holding `path` ("." for a bare name).
std::string directoryOf(const std::string& path);

// A new file beside `path` under a temporary name nobody can have planted: "DIR/.NAME.XXXXXXXXXXXX.tmp"
// (12 random hex digits; hidden, so NAME* never matches it), created with O_EXCL|O_NOFOLLOW.
struct TempFile {
  std::string path;
  UniqueFd fd;
};
TempFile createTempBeside(const std::string& path, mode_t mode);  // SystemError if it cannot
// True if `fileName` is a temporary name createTempBeside gives for a file named `name`.
bool isTempNameOf(std::string_view fileName, std::string_view name);
// Removes the temporaries of `path` a crash left (only while nobody else can be writing them:
// under the owner's lock). Errors are ignored.
void removeLeftoverTemps(const std::string& path) noexcept;

// Replaces `path` with `data` atomically: a temporary beside it (createTempBeside), written,
// fsynced when `sync`, renamed over `path`, the directory fsynced when `sync`. A link at `path` is
// replaced, never written through. SystemError (the temporary removed) if a step fails.
void replaceFile(const std::string& path, std::string_view data, mode_t mode, bool sync);

// fsync of the directory holding `path`, so that a rename or a creation in it survives a power
// loss. Errors are ignored (some file systems refuse to sync a directory).
void syncDirectoryOf(const std::string& path) noexcept;

// Creates `dir` and its missing parents with `mode` (the umask applies); existing ones are kept as
// they are. SystemError if it cannot.
void createDirectories(const std::string& dir, mode_t mode);

}  // namespace logship
