#include "producer/line_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace logship {

LineReader::LineReader(int fd, size_t maxLineBytes)
    : fd_(fd), maxLineBytes_(maxLineBytes), buf_(std::max<size_t>(maxLineBytes + 2, 256 * 1024)) {}

bool LineReader::fill(std::chrono::milliseconds timeout) {
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready == 0 || (ready < 0 && errno == EINTR)) return false;  // idle, or a signal to look at
  if (ready < 0) throw Error(fmt::format("waiting for input: {}", std::strerror(errno)));
  ssize_t n;
  do {
    n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw Error(fmt::format("reading input: {}", std::strerror(errno)));
  if (n == 0) eof_ = true;
  end_ += static_cast<size_t>(n);
  return true;
}

LineReader::Result LineReader::complete(const char* start, size_t len, std::string_view& line, size_t& skippedBytes) {
  ++lineNumber_;
  if (skipping_) {
    skipping_ = false;
    skippedBytes = skipped_ + len;
    return Result::TooLong;
  }
  line = std::string_view(start, len);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > maxLineBytes_) {
    skippedBytes = line.size();
    return Result::TooLong;
  }
  return Result::Line;
}

LineReader::Result LineReader::next(std::string_view& line, size_t& skippedBytes, std::chrono::milliseconds timeout) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      const size_t len = static_cast<size_t>(nl - start);
      begin_ += len + 1;
      return complete(start, len, line, skippedBytes);
    }
    if (eof_) {
      if (begin_ == end_ && !skipping_) return Result::Eof;
      const size_t len = end_ - begin_;  // a last line without a newline
      begin_ = end_;
      return complete(start, len, line, skippedBytes);
    }
    if (end_ - begin_ == buf_.size()) {
      // No newline in a full buffer: the line is over the limit. Drop what we have, keep skipping.
      if (!skipping_) skipped_ = 0;
      skipping_ = true;
      skipped_ += end_ - begin_;
      begin_ = end_ = 0;
    }
    if (!fill(timeout)) return Result::Idle;
  }
}

}  // namespace logship
