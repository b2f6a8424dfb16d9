#pragma once
// Splits a syslog TCP stream into messages (RFC 6587), decided anew for every frame:
//   octet counting:   MSG-LEN SP SYSLOG-MSG     when the frame starts with a digit (1 to 10 digits, then a space)
//   non-transparent:  SYSLOG-MSG LF             anything else; a NUL also ends a frame, a CR before the LF is dropped
// Empty frames (blank lines, stray NULs, "0 ") carry nothing and are skipped. A frame over the size
// limit is reported (TooLong) and skipped whole: an octet-counted one by its length, a
// non-transparent one up to its LF, so the stream stays in step. Pure: the connection reads into
// writable() and calls next() until NeedMore.
#include <cstddef>
#include <string_view>
#include <vector>

namespace logship {

class SyslogFramer {
 public:
  enum class Result { Frame, TooLong, NeedMore };

  explicit SyslogFramer(size_t maxFrameBytes) : max_(maxFrameBytes) {}

  // Room for at least `want` more bytes at the end of the buffer; then commit() what was written.
  char* writable(size_t want);
  void commit(size_t n) { end_ += n; }

  // Frame: `frame` is the next message (valid until the next call). TooLong: a frame of
  // `tooLongBytes` bytes (non-transparent: at least that many) is being skipped. NeedMore: read more.
  Result next(std::string_view& frame, size_t& tooLongBytes);

  // At the end of the stream (after next() returned NeedMore): the incomplete frame left, if any —
  // a last message without its LF (`cut` false), or an octet-counted one shorter than its length
  // said (`cut` true, the bytes that came). False when nothing is left.
  bool rest(std::string_view& frame, bool& cut);

  size_t buffered() const { return end_ - begin_; }
  // Gives back a large buffer's memory while nothing is buffered (after a large frame).
  void shrink();

 private:
  // The length of "LEN SP" at `p` with the length in `length`; 0: not octet counting; npos: more
  // bytes are needed to tell.
  size_t octetHeader(const char* p, size_t available, size_t& length) const;

  size_t max_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t skipOctets_ = 0;     // of a too long octet-counted frame, still to skip
  bool skippingLine_ = false;  // inside a too long non-transparent frame: skip to its LF
};

}  // namespace logship
