#include "producer/input/syslog_framer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace logship {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Where the first LF or NUL is in [p, p + n), or n.
size_t terminator(const char* p, size_t n) {
  const void* lf = std::memchr(p, '\n', n);
  const size_t end = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - p) : n;
  const void* nul = std::memchr(p, '\0', end);
  return nul != nullptr ? static_cast<size_t>(static_cast<const char*>(nul) - p) : end;
}

}  // namespace

char* SyslogFramer::writable(size_t want) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < want) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < want) buf_.resize(end_ + want);
  }
  return buf_.data() + end_;
}

void SyslogFramer::shrink() {
  if (begin_ == end_ && buf_.capacity() > 256 * 1024) {
    std::vector<char>().swap(buf_);
    begin_ = end_ = 0;
  }
}

size_t SyslogFramer::octetHeader(const char* p, size_t available, size_t& length) const {
  uint64_t value = 0;
  size_t i = 0;
  while (i < available && i < 10 && isDigit(p[i])) value = value * 10 + static_cast<uint64_t>(p[i++] - '0');
  if (i == available) return std::string_view::npos;  // only digits so far
  if (i == 0 || p[i] != ' ') return 0;
  length = static_cast<size_t>(value);
  return i + 1;
}

SyslogFramer::Result SyslogFramer::next(std::string_view& frame, size_t& tooLongBytes) {
  for (;;) {
    const char* p = buf_.data() + begin_;
    const size_t available = end_ - begin_;
    if (skipOctets_ > 0) {
      const size_t n = std::min(skipOctets_, available);
      begin_ += n;
      skipOctets_ -= n;
      if (skipOctets_ > 0) return Result::NeedMore;
      continue;
    }
    if (skippingLine_) {
      const size_t end = terminator(p, available);
      if (end == available) {
        begin_ = end_;
        return Result::NeedMore;
      }
      begin_ += end + 1;
      skippingLine_ = false;
      continue;
    }
    if (available == 0) return Result::NeedMore;
    if (*p == '\n' || *p == '\r' || *p == '\0') {  // an empty frame, or what is left of a CRLF
      ++begin_;
      continue;
    }
    if (isDigit(*p)) {
      size_t length = 0;
      const size_t header = octetHeader(p, available, length);
      if (header == std::string_view::npos) return Result::NeedMore;
      if (header > 0) {
        if (length > max_) {
          begin_ += header;
          skipOctets_ = length;
          tooLongBytes = length;
          return Result::TooLong;
        }
        if (available - header < length) return Result::NeedMore;
        begin_ += header + length;
        if (length == 0) continue;
        frame = std::string_view(p + header, length);
        return Result::Frame;
      }
    }
    const size_t end = terminator(p, available);
    if (end == available) {
      if (available > max_ + 1) {  // + 1: a CR that the LF to come makes no part of the frame
        tooLongBytes = available;
        skippingLine_ = true;
        begin_ = end_;
        return Result::TooLong;
      }
      return Result::NeedMore;
    }
    begin_ += end + 1;
    size_t length = end;
    if (length > 0 && p[length - 1] == '\r') --length;
    if (length > max_) {
      tooLongBytes = length;
      return Result::TooLong;
    }
    if (length == 0) continue;
    frame = std::string_view(p, length);
    return Result::Frame;
  }
}

bool SyslogFramer::rest(std::string_view& frame, bool& cut) {
  if (skipOctets_ > 0 || skippingLine_ || begin_ == end_) return false;
  const char* p = buf_.data() + begin_;
  const size_t available = end_ - begin_;
  begin_ = end_;
  size_t length = 0;
  const size_t header = isDigit(*p) ? octetHeader(p, available, length) : 0;
  if (header != 0 && header != std::string_view::npos) {
    if (available == header) return false;  // a length and nothing of the message
    frame = std::string_view(p + header, available - header);
    cut = true;
    return true;
  }
  size_t n = available;
  if (p[n - 1] == '\r') --n;
  if (n == 0) return false;
  frame = std::string_view(p, n);
  cut = false;
  return true;
}

}  // namespace logship
