#pragma once
#include <cstddef>
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

inline constexpr size_t kMaxFieldKeyBytes = 128;  // keys given by users are refused past it, keys read from inputs cut

// Whether `c` may appear in a field key: ASCII letters, digits, '_', '.' and '-' (not std::isalnum,
// whose answer depends on the locale). One rule for --field, ClientOptions::fields and the keys an
// input brings (producer/input/record_fields.hpp replaces other bytes by '_'), so that the text
// output format can always be read back.
constexpr bool fieldKeyByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

// What is wrong with `key` as a field key given by a user (log_producer --field, the client
// library's ClientOptions::fields), or an empty view.
constexpr std::string_view fieldKeyProblem(std::string_view key) {
  if (key.empty()) return "the key is empty";
  static_assert(kMaxFieldKeyBytes == 128, "the line below names the limit");
  if (key.size() > kMaxFieldKeyBytes) return "the key is longer than 128 bytes";
  for (unsigned char c : key) {
    if (!fieldKeyByte(c)) return "keys may hold only letters, digits, '_', '.' and '-'";
  }
  return {};
}

}  // namespace logship
