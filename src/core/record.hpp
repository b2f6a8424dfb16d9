#pragma once
#include <cstdint>
#include <string>
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

}  // namespace logship
