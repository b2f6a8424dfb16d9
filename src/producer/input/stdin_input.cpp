#include "producer/input/stdin_input.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "producer/shipper.hpp"

namespace logship {

StdinInput::StdinInput(int fd, size_t maxLineBytes, LineFormat& format, const MultilineOptions& multiline)
    : fd_(fd), maxLineBytes_(maxLineBytes), reader_(fd, maxLineBytes), format_(format), multiline_(multiline) {
  multiline_.maxBytes = maxLineBytes;
}

bool StdinInput::read(Shipper& shipper) {
  std::string_view line;
  size_t skipped = 0;
  const auto now = LineJoiner::Clock::now();
  // Bounded, so that a fast input does not starve the others or the stop signal.
  for (int i = 0; i < 65536 && !shipper.failed(); ++i) {
    switch (reader_.next(line, skipped, std::chrono::milliseconds(0))) {
      case LineReader::Result::Line:
        if (auto record = joiner_.push(line, {}, now)) format_.ship(shipper, *record, shipper.recordTemplate());
        break;
      case LineReader::Result::TooLong:
        if (auto record = joiner_.flush()) format_.ship(shipper, *record, shipper.recordTemplate());
        shipper.refuse();
        spdlog::error("line {} refused: {} bytes is over the limit of {} bytes (--max-message-bytes)",
                      reader_.lineNumber(), skipped, maxLineBytes_);
        break;
      case LineReader::Result::Idle:
        if (auto record = joiner_.flushIfDue(now)) format_.ship(shipper, *record, shipper.recordTemplate());
        return true;
      case LineReader::Result::Eof: return false;
    }
  }
  return true;
}

std::chrono::milliseconds StdinInput::wakeIn() const {
  const auto due = joiner_.due();
  if (!due) return Input::wakeIn();
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*due - LineJoiner::Clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), Input::wakeIn());
}

void StdinInput::endOfInput(Shipper& shipper) {
  if (auto record = joiner_.flush()) format_.ship(shipper, *record, shipper.recordTemplate());
  if (joiner_.emptyLines() > 0) spdlog::info("skipped {} empty line(s)", joiner_.emptyLines());
  if (joiner_.splits() > 0) {
    spdlog::warn(
        "{} multiline record(s) reached --multiline-max-lines {} or --max-message-bytes {}: each was "
        "shipped as it was, and the line after it started the next record",
        joiner_.splits(), multiline_.maxLines, multiline_.maxBytes);
  }
}

}  // namespace logship
