#include "producer/line_reader.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace logship {

LineReader::LineReader(int fd, size_t maxLineBytes) : fd_(fd), buffer_(maxLineBytes) {}

bool LineReader::fill(std::chrono::milliseconds timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (ready == 0 || (ready < 0 && errno == EINTR)) return false;  // idle, or a signal to look at
  if (ready < 0) throw Error(fmt::format("waiting for input: {}", std::strerror(errno)));
  const ssize_t n = buffer_.readFrom(fd_);
  if (n < 0) throw Error(fmt::format("reading input: {}", std::strerror(errno)));
  if (n == 0) eof_ = true;
  return true;
}

LineReader::Result LineReader::next(std::string_view& line, size_t& skippedBytes, std::chrono::milliseconds timeout) {
  for (;;) {
    switch (buffer_.next(line, skippedBytes)) {
      case LineBuffer::Result::Line: return Result::Line;
      case LineBuffer::Result::TooLong: return Result::TooLong;
      case LineBuffer::Result::NeedMore: break;
    }
    if (eof_) {
      switch (buffer_.rest(line, skippedBytes)) {  // a last line without a newline
        case LineBuffer::Result::Line: return Result::Line;
        case LineBuffer::Result::TooLong: return Result::TooLong;
        case LineBuffer::Result::NeedMore: return Result::Eof;
      }
    }
    if (!fill(timeout)) return Result::Idle;
  }
}

}  // namespace logship
