#include "producer/line_buffer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace logship {

LineBuffer::LineBuffer(size_t maxLineBytes, size_t initialBytes)
    : maxLineBytes_(maxLineBytes),
      capacityLimit_(std::max(maxLineBytes + 2, initialBytes)),
      buf_(std::min(initialBytes, capacityLimit_)) {}

LineBuffer::Result LineBuffer::complete(const char* start, size_t len, bool newline, std::string_view& line,
                                        size_t& skippedBytes) {
  ++lineNumber_;
  lastBytes_ = len + (newline ? 1 : 0);
  if (skipping_) {
    skipping_ = false;
    lastBytes_ += skipped_;
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

LineBuffer::Result LineBuffer::next(std::string_view& line, size_t& skippedBytes) {
  const char* start = buf_.data() + begin_;
  const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
  if (nl != nullptr) {
    const size_t len = static_cast<size_t>(nl - start);
    begin_ += len + 1;
    return complete(start, len, true, line, skippedBytes);
  }
  if (end_ - begin_ == buf_.size() && buf_.size() < capacityLimit_) {
    buf_.resize(std::min(buf_.size() * 2, capacityLimit_));  // a longer line than so far: room for it
  } else if (end_ - begin_ == buf_.size()) {
    // No newline in a full buffer: the line is over the limit. Drop what we have, keep skipping.
    if (!skipping_) skipped_ = 0;
    skipping_ = true;
    skipped_ += end_ - begin_;
    begin_ = end_ = 0;
  }
  return Result::NeedMore;
}

LineBuffer::Result LineBuffer::rest(std::string_view& line, size_t& skippedBytes) {
  if (begin_ == end_ && !skipping_) return Result::NeedMore;
  const char* start = buf_.data() + begin_;
  const size_t len = end_ - begin_;
  begin_ = end_ = 0;
  return complete(start, len, false, line, skippedBytes);
}

ssize_t LineBuffer::readFrom(int fd) {
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  ssize_t n;
  do {
    n = ::read(fd, buf_.data() + end_, buf_.size() - end_);
  } while (n < 0 && errno == EINTR);
  if (n > 0) end_ += static_cast<size_t>(n);
  return n;
}

void LineBuffer::clear() {
  begin_ = end_ = 0;
  skipping_ = false;
  skipped_ = 0;
}

}  // namespace logship
