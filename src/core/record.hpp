#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/level.hpp"

namespace logship {

struct Field {
  std::string key;
  std::string value;
  bool operator==(const Field&) const = default;
};

// One log record. `message` is arbitrary bytes as the producer got them; escaping happens only
// when a record is written out (core/output_format.hpp), never on the wire.
struct Record {
  int64_t timestampUs = 0;  // microseconds since the Unix epoch, UTC
  Level level = Level::Info;
  std::string service = "-";  // "-" = not given
  std::string host = "-";
  std::string message;
  std::vector<Field> fields;
  // Unique id given by the producer ("<producer instance>-<sequence>"), the same on every resend;
  // the aggregator's duplicate suppression keys on it. Empty for records of plain clients.
  std::string id;
  bool operator==(const Record&) const = default;
};

// What is wrong with `name` as a service or host name given on a command line, or an empty view:
// log_producer --service/--host and logctl tail --service accept the same names. (Any bytes read
// back from the output formats: this only refuses names no one means to give.)
inline std::string_view recordNameProblem(std::string_view name) {
  if (name.empty()) return "the name is empty";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return "the name contains a control character";
  }
  return {};
}

}  // namespace logship
