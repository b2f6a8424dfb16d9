#pragma once
#include <cstdint>
#include <string>

#include "producer/input/input.hpp"
#include "producer/input/line_format.hpp"
#include "producer/input/multiline.hpp"
#include "producer/line_reader.hpp"

namespace logship {

// Lines from a descriptor (log_producer's stdin), one record per line (or per multiline record,
// `multiline`), made by `format`. An empty line carries no information: skipped and counted. A line
// over the size limit is refused and reported.
class StdinInput : public Input {
 public:
  StdinInput(int fd, size_t maxLineBytes, LineFormat& format, const MultilineOptions& multiline = {});
  std::string_view name() const override { return "stdin"; }
  void addPollFds(std::vector<pollfd>& fds) override { fds.push_back({fd_, POLLIN, 0}); }
  bool read(Shipper& shipper) override;
  std::chrono::milliseconds wakeIn() const override;
  void endOfInput(Shipper& shipper) override;

 private:
  int fd_;
  size_t maxLineBytes_;
  LineReader reader_;
  LineFormat& format_;
  MultilineOptions multiline_;
  LineJoiner joiner_{multiline_};
};

}  // namespace logship
