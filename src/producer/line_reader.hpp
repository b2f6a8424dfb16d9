#pragma once
#include <chrono>
#include <cstddef>
#include <string_view>

#include "producer/line_buffer.hpp"

namespace logship {

// Lines from a pipe, terminal or other descriptor that poll(2) can wait on (log_producer's stdin),
// through a LineBuffer. A line longer than `maxLineBytes` is not returned: it is skipped whole and
// reported as TooLong.
class LineReader {
 public:
  enum class Result { Line, TooLong, Idle, Eof };

  LineReader(int fd, size_t maxLineBytes);

  // Line: `line` holds the next line without its '\n' (and without a trailing '\r'), valid until the
  // next call. TooLong: a line over the limit was skipped; `skippedBytes` says how long it was.
  // Idle: no complete line arrived within `timeout`. Eof: input ended (a last line without '\n' is
  // returned as a Line first). Throws Error on a read error.
  Result next(std::string_view& line, size_t& skippedBytes, std::chrono::milliseconds timeout);

  size_t lineNumber() const { return buffer_.lineNumber(); }

 private:
  bool fill(std::chrono::milliseconds timeout);  // false on timeout

  int fd_;
  LineBuffer buffer_;
  bool eof_ = false;
};

}  // namespace logship
