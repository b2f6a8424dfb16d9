#pragma once
// Splits a syslog TCP stream into messages (RFC 6587), decided anew for every frame:
//   octet counting:   MSG-LEN SP SYSLOG-MSG     when the frame starts with a digit (1 to 10 digits, then a space)
//   non-transparent:  SYSLOG-MSG LF  or  SYSLOG-MSG NUL   anything else
// LF and NUL framing on one connection (docs/FORMATS.md, "Syslog"): a connection starts
// with LF framing, where an LF or a NUL ends a frame — except that when a NUL has already arrived
// within the size limit after the frame's start, the frame runs to that NUL, LFs included. Once a
// frame ended with a NUL the connection uses NUL framing: only a NUL ends a frame, an LF is part of
// the message (multi-line messages such as stack traces, from Python's SysLogHandler and others
// that end TCP frames with a NUL). A CR before the LF (LF framing), or an LF or CR LF before the NUL
// (NUL framing), is dropped.
// Empty frames (blank lines, stray NULs, "0 ") carry nothing and are skipped. A frame over the size
// limit is reported (TooLong) and skipped whole: an octet-counted one by its length, a
// non-transparent one up to its end, so the stream stays in step. Pure: the connection reads into
// writable() and calls next() until NeedMore.
#include <cstddef>
#include <string_view>
#include <vector>

namespace logship {

class SyslogFramer {
 public:
  enum class Result { Frame, TooLong, NeedMore };
  // A frame over the limit: its size in bytes, or (atLeast) a lower bound when it was found too long
  // before its end arrived.
  struct TooLongFrame {
    size_t bytes = 0;
    bool atLeast = false;
  };

  explicit SyslogFramer(size_t maxFrameBytes) : max_(maxFrameBytes) {}

  // Room for at least `want` more bytes at the end of the buffer; then commit() what was written.
  char* writable(size_t want);
  void commit(size_t n) { end_ += n; }

  // Frame: `frame` is the next message (valid until the next call). TooLong: the frame `tooLong`
  // describes is being skipped. NeedMore: read more.
  Result next(std::string_view& frame, TooLongFrame& tooLong);

  // At the end of the stream (after next() returned NeedMore): the incomplete frame left, if any —
  // a last message without its LF (`cut` false), or an octet-counted one shorter than its length
  // said (`cut` true, the bytes that came). False when nothing is left.
  bool rest(std::string_view& frame, bool& cut);

  size_t buffered() const { return end_ - begin_; }
  // True once a frame ended with a NUL: from then on only a NUL ends a frame.
  bool nulFraming() const { return nulFraming_; }
  // Gives back a large buffer's memory while nothing is buffered (after a large frame).
  void shrink();

 private:
  // The length of "LEN SP" at `p` with the length in `length`; 0: not octet counting; npos: more
  // bytes are needed to tell.
  size_t octetHeader(const char* p, size_t available, size_t& length) const;
  // The buffer offset of the first NUL from begin_ on, or end_ (each byte is looked at once).
  size_t nextNul();
  // Where the non-transparent frame at begin_ ends, from begin_ (its LF or NUL), or the bytes
  // buffered when its end has not come; `byNul`: it ends with a NUL.
  size_t frameEnd(bool& byNul);
  // The frame's length without the line end before its terminator (a CR; before a NUL, an LF too).
  static size_t withoutLineEnd(const char* p, size_t length, bool byNul);

  size_t max_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t skipOctets_ = 0;      // of a too long octet-counted frame, still to skip
  bool skippingLine_ = false;  // inside a too long non-transparent frame: skip to its end
  bool nulFraming_ = false;    // a frame ended with a NUL: only a NUL ends one
  size_t noNulBefore_ = 0;     // no NUL in [begin_, noNulBefore_)
};

}  // namespace logship
