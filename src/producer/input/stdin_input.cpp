#include "producer/input/stdin_input.hpp"

#include <spdlog/spdlog.h>

#include "producer/shipper.hpp"

namespace logship {

StdinInput::StdinInput(int fd, size_t maxLineBytes, LineFormat& format)
    : fd_(fd), maxLineBytes_(maxLineBytes), reader_(fd, maxLineBytes), format_(format) {}

bool StdinInput::read(Shipper& shipper) {
  std::string_view line;
  size_t skipped = 0;
  // Bounded, so that a fast input does not starve the others or the stop signal.
  for (int i = 0; i < 65536 && !shipper.failed(); ++i) {
    switch (reader_.next(line, skipped, std::chrono::milliseconds(0))) {
      case LineReader::Result::Line:
        if (line.empty()) {
          ++emptyLines_;
        } else {
          format_.ship(shipper, line, shipper.recordTemplate());
        }
        break;
      case LineReader::Result::TooLong:
        shipper.refuse();
        spdlog::error("line {} refused: {} bytes is over the limit of {} bytes (--max-message-bytes)",
                      reader_.lineNumber(), skipped, maxLineBytes_);
        break;
      case LineReader::Result::Idle: return true;
      case LineReader::Result::Eof: return false;
    }
  }
  return true;
}

void StdinInput::endOfInput(Shipper&) {
  if (emptyLines_ > 0) spdlog::info("skipped {} empty line(s)", emptyLines_);
}

}  // namespace logship
