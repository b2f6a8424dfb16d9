#include "aggregator/file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace logship {

FileSink::FileSink(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw SinkError(fmt::format("cannot open output {}: {}", path_, std::strerror(errno)));
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSink::write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SinkError(fmt::format("writing to {}: {}", path_, std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void FileSink::sync() {
  if (::fdatasync(fd_) != 0) throw SinkError(fmt::format("syncing {}: {}", path_, std::strerror(errno)));
}

}  // namespace logship
