#include "producer/input/syslog_framer.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace logship {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

constexpr size_t kLineEndBytes = 2;  // a CR LF before a NUL (or a CR before an LF), not part of the frame

}  // namespace

char* SyslogFramer::writable(size_t want) {
  if (begin_ == end_) begin_ = end_ = noNulBefore_ = 0;
  if (buf_.size() - end_ < want) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      noNulBefore_ = noNulBefore_ > begin_ ? noNulBefore_ - begin_ : 0;
      begin_ = 0;
    }
    if (buf_.size() - end_ < want) buf_.resize(end_ + want);
  }
  return buf_.data() + end_;
}

void SyslogFramer::shrink() {
  if (begin_ == end_ && buf_.capacity() > 256 * 1024) {
    std::vector<char>().swap(buf_);
    begin_ = end_ = noNulBefore_ = 0;
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

size_t SyslogFramer::nextNul() {
  const size_t from = std::max(begin_, noNulBefore_);
  const void* nul = std::memchr(buf_.data() + from, '\0', end_ - from);
  noNulBefore_ = nul != nullptr ? static_cast<size_t>(static_cast<const char*>(nul) - buf_.data()) : end_;
  return noNulBefore_;
}

size_t SyslogFramer::frameEnd(bool& byNul) {
  const size_t available = end_ - begin_;
  const size_t nulAt = nextNul() - begin_;
  byNul = nulAt < available;
  if (nulFraming_) return nulAt;
  const char* p = buf_.data() + begin_;
  const void* lf = std::memchr(p, '\n', nulAt);
  // LF framing, but the NUL that ends this frame has arrived already: the frame runs to it.
  if (lf == nullptr || (byNul && !skippingLine_ && nulAt <= max_ + kLineEndBytes)) return nulAt;
  byNul = false;
  return static_cast<size_t>(static_cast<const char*>(lf) - p);
}

size_t SyslogFramer::withoutLineEnd(const char* p, size_t length, bool byNul) {
  if (byNul && length > 0 && p[length - 1] == '\n') --length;
  if (length > 0 && p[length - 1] == '\r') --length;
  return length;
}

SyslogFramer::Result SyslogFramer::next(std::string_view& frame, TooLongFrame& tooLong) {
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
      bool byNul = false;
      const size_t end = frameEnd(byNul);
      if (end == available) {
        begin_ = end_;
        return Result::NeedMore;
      }
      begin_ += end + 1;
      nulFraming_ = nulFraming_ || byNul;
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
          tooLong = {length, false};
          return Result::TooLong;
        }
        if (available - header < length) return Result::NeedMore;
        begin_ += header + length;
        if (length == 0) continue;
        frame = std::string_view(p + header, length);
        return Result::Frame;
      }
    }
    bool byNul = false;
    const size_t end = frameEnd(byNul);
    if (end == available) {
      if (available > max_ + kLineEndBytes) {  // too long before its end came
        tooLong = {available, true};
        skippingLine_ = true;
        begin_ = end_;
        return Result::TooLong;
      }
      return Result::NeedMore;
    }
    begin_ += end + 1;
    nulFraming_ = nulFraming_ || byNul;
    const size_t length = withoutLineEnd(p, end, byNul);
    if (length > max_) {
      tooLong = {length, false};
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
  const size_t n = withoutLineEnd(p, available, nulFraming_);
  if (n == 0) return false;
  frame = std::string_view(p, n);
  cut = false;
  return true;
}

}  // namespace logship
