#include "aggregator/output_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "core/escape.hpp"
#include "core/host.hpp"
#include "core/io.hpp"

namespace logship {
namespace {

// "pid N on HOST" from the lock file, or what it holds if it is not in that shape.
std::string ownerOf(const std::string& lockPath) {
  std::string text;
  if (!readFile(lockPath, text)) return "unknown";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const size_t space = text.find(' ');
  if (text.empty() || space == std::string::npos) return text.empty() ? "unknown" : escaped(text);
  return fmt::format("pid {} on {}", escaped(text.substr(0, space)), escaped(text.substr(space + 1)));
}

}  // namespace

std::string OutputLock::pathFor(const std::string& outputPath) {
  const std::filesystem::path p(outputPath);
  return (p.parent_path() / ("." + p.filename().string() + ".lock")).string();
}

OutputLock::OutputLock(const std::string& outputPath, mode_t mode) {
  const std::string lockPath = pathFor(outputPath);
  fd_ = lockFile(lockPath, mode);
  if (!fd_.valid() && errno == EWOULDBLOCK) {
    throw Error(
        fmt::format("{} is being written by another log_aggregator ({}; lock {}): only one aggregator may "
                    "write to an output file; give this one its own --output (several aggregators share a "
                    "queue's work, each writing its own file)",
                    escaped(outputPath), ownerOf(lockPath), escaped(lockPath)));
  }
  const auto fail = [&](const char* what) {
    return Error(fmt::format("cannot open output {}: {}", escaped(outputPath), errnoMessage(what, lockPath, errno)));
  };
  if (!fd_.valid()) throw fail("cannot take its lock");
  const std::string owner = fmt::format("{} {}\n", ::getpid(), localHostName());
  if (::ftruncate(fd_.get(), 0) != 0 || !writeAll(fd_.get(), owner)) {
    throw fail("cannot write its lock");
  }
}

}  // namespace logship
