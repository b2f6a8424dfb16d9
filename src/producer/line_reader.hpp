#pragma once
#include <chrono>
#include <cstddef>
#include <string_view>
#include <vector>

namespace logship {

// Splits a file descriptor into lines with large reads and no per-line allocation.
// A line longer than `maxLineBytes` is not returned: it is skipped whole and reported as TooLong.
class LineReader {
 public:
  enum class Result { Line, TooLong, Idle, Eof };

  LineReader(int fd, size_t maxLineBytes);

  // Line: `line` holds the next line without its '\n' (and without a trailing '\r'), valid until the
  // next call. TooLong: a line over the limit was skipped; `skippedBytes` says how long it was.
  // Idle: no complete line arrived within `timeout`. Eof: input ended (a last line without '\n' is
  // returned as a Line first). Throws Error on a read error.
  Result next(std::string_view& line, size_t& skippedBytes, std::chrono::milliseconds timeout);

  size_t lineNumber() const { return lineNumber_; }

 private:
  bool fill(std::chrono::milliseconds timeout);  // false on timeout
  // Accounts for one line of `len` bytes at `start` (already consumed from the buffer).
  Result complete(const char* start, size_t len, std::string_view& line, size_t& skippedBytes);

  int fd_;
  size_t maxLineBytes_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line
  size_t skipped_ = 0;
  size_t lineNumber_ = 0;
};

}  // namespace logship
