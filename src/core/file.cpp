#include "core/file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "core/escape.hpp"
#include "core/io.hpp"

namespace logship {
namespace {

namespace fs = std::filesystem;

constexpr size_t kRandomDigits = 12;

std::string randomHex() {
  static thread_local std::random_device device;  // getrandom(2): unpredictable names
  const uint64_t r = (static_cast<uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:012x}", r & 0xffffffffffffULL);
}

}  // namespace

std::string directoryOf(const std::string& path) {
  const fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

std::string errnoMessage(std::string_view what, const std::string& path, int code) {
  return fmt::format("{} {}: {}", what, escaped(path), std::strerror(code));
}

void throwSystemError(std::string_view what, const std::string& path, int code) {
  throw SystemError(errnoMessage(what, path, code), code);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

int UniqueFd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool UniqueFd::close() noexcept {
  if (fd_ < 0) return true;
  return ::close(release()) == 0;
}

UniqueFd openFile(const std::string& path, int flags, mode_t mode, bool followLink) {
  return UniqueFd(::open(path.c_str(), flags | O_CLOEXEC | (followLink ? 0 : O_NOFOLLOW), mode));
}

bool readFile(const std::string& path, std::string& out) {
  const UniqueFd fd = openFile(path, O_RDONLY, 0, true);
  return fd.valid() && readAll(fd.get(), out);
}

UniqueFd lockFile(const std::string& path, mode_t mode) {
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT, mode);
  if (fd.valid() && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int code = errno;
    fd.reset();
    errno = code;
  }
  return fd;
}

TempFile createTempBeside(const std::string& path, mode_t mode) {
  const fs::path p(path);
  const std::string prefix = (p.parent_path() / ("." + p.filename().string() + ".")).string();
  for (int attempt = 0;; ++attempt) {
    TempFile t{prefix + randomHex() + ".tmp", {}};
    t.fd = openFile(t.path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (t.fd.valid()) return t;
    if (errno != EEXIST || attempt == 16) throwSystemError("cannot create", t.path, errno);
  }
}

bool isTempNameOf(std::string_view fileName, std::string_view name) {
  const size_t size = 1 + name.size() + 1 + kRandomDigits + 4;
  if (fileName.size() != size || fileName[0] != '.' || fileName.substr(1, name.size()) != name ||
      fileName[1 + name.size()] != '.' || !fileName.ends_with(".tmp")) {
    return false;
  }
  const std::string_view digits = fileName.substr(2 + name.size(), kRandomDigits);
  return digits.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void removeLeftoverTemps(const std::string& path) noexcept {
  const std::string name = fs::path(path).filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(directoryOf(path), ec), end; !ec && it != end; it.increment(ec)) {
    if (isTempNameOf(it->path().filename().string(), name)) ::unlink(it->path().c_str());
  }
}

void replaceFile(const std::string& path, std::string_view data, mode_t mode, bool sync) {
  TempFile tmp = createTempBeside(path, mode);
  if (!writeAll(tmp.fd.get(), data) || (sync && ::fsync(tmp.fd.get()) != 0) || !tmp.fd.close()) {
    const int code = errno;
    ::unlink(tmp.path.c_str());
    throwSystemError("cannot write", tmp.path, code);
  }
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) {
    const int code = errno;
    ::unlink(tmp.path.c_str());
    throwSystemError("cannot replace", path, code);
  }
  if (sync) syncDirectoryOf(path);
}

void syncDirectoryOf(const std::string& path) noexcept {
  UniqueFd dir(::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
}

void createDirectories(const std::string& dir, mode_t mode) {
  if (dir.empty()) return;
  const fs::path p(dir);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throwSystemError("cannot create the directory", dir, ENOTDIR);
    return;
  }
  if (p.has_parent_path() && p.parent_path() != p) createDirectories(p.parent_path().string(), mode);
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) throwSystemError("cannot create the directory", dir, errno);
}

}  // namespace logship
