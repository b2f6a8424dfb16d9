#pragma once
#include <sys/types.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace logship {

// Splits bytes read from a descriptor into lines, with large reads and no allocation per line: the
// buffer that both LineReader (a pipe or terminal: stdin) and the followed files
// (producer/input/file_input.hpp) read into. A line longer than `maxLineBytes` is not returned: it
// is skipped whole and reported as TooLong.
class LineBuffer {
 public:
  enum class Result { Line, TooLong, NeedMore };

  // The buffer starts at `initialBytes` and grows (doubling) up to what a line of `maxLineBytes`
  // needs, when a line does not fit.
  explicit LineBuffer(size_t maxLineBytes, size_t initialBytes = 256 * 1024);

  // Line: `line` holds the next line without its '\n' (and without a trailing '\r'), valid until
  // the next call that changes the buffer. TooLong: a line over the limit was skipped;
  // `skippedBytes` says how long it was. NeedMore: no complete line is buffered (read more).
  Result next(std::string_view& line, size_t& skippedBytes);
  // At the end of the input: what follows the last line break as a last line (Line or TooLong), or
  // NeedMore when nothing does. The buffer is empty afterwards.
  Result rest(std::string_view& line, size_t& skippedBytes);
  // One read(2) into the free space (the unconsumed bytes are moved to the front first). Returns
  // read's result: the bytes read, 0 at end of file, -1 with errno set (EINTR is retried).
  ssize_t readFrom(int fd);
  // Forgets everything buffered, and an over-long line being skipped (a file truncated under us).
  void clear();

  // Input bytes that the last Line or TooLong took, its '\n' included.
  size_t lastBytes() const { return lastBytes_; }
  // Input bytes held that belong to no complete line yet (a partial line, or the part of an
  // over-long line skipped so far).
  size_t held() const { return (end_ - begin_) + (skipping_ ? skipped_ : 0); }
  size_t lineNumber() const { return lineNumber_; }

 private:
  Result complete(const char* start, size_t len, bool newline, std::string_view& line, size_t& skippedBytes);

  size_t maxLineBytes_;
  size_t capacityLimit_;
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool skipping_ = false;  // inside an over-long line
  size_t skipped_ = 0;
  size_t lastBytes_ = 0;
  size_t lineNumber_ = 0;
};

}  // namespace logship
