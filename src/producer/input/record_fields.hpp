#pragma once
// Metadata that comes from the input itself (syslog HOSTNAME, APP-NAME and structured data, the keys
// of a JSON line), made safe for the record model and the wire (docs/FORMATS.md, "Fields from the
// input"). Field keys hold only letters, digits, '_', '.' and '-' like --field keys (other bytes
// become '_'), so the text output format can be read back; what a record carries in its metadata
// is bounded, because RabbitMQ carries it in the message's headers, which must fit in one frame
// (128 KiB) together with the batch's timestamps.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_set>

#include "core/record.hpp"

namespace logship {

inline constexpr size_t kMaxFieldBytes = 64 * 1024;  // keys + values of one record's fields
inline constexpr size_t kMaxServiceHostBytes = 255;  // longer service and host names are cut
inline constexpr std::string_view kParseErrorField = "parse_error";
inline constexpr std::string_view kFieldsDroppedField = "fields_dropped";

// Appends `key` to `out` with every byte outside [A-Za-z0-9_.-] replaced by '_', cut at
// kMaxFieldKeyBytes; an empty key becomes "_".
void appendFieldKey(std::string& out, std::string_view key);

// Cuts a service or host name taken from the input to kMaxServiceHostBytes (at a UTF-8 character
// boundary); an empty name becomes "-".
void assignName(std::string& out, std::string_view name);

// Builds the fields of one record: the source's fields (the template's --field defaults, a file's
// path) first, then the input's own. An input field whose key equals one of the source's replaces
// that value (the record says more than the defaults); a key the input gives twice is kept with
// "_2", "_3", ... appended, so that nothing is lost. Fields past kMaxFieldBytes are not added but
// counted in a last field fields_dropped=N.
class FieldBuilder {
 public:
  // Starts `record`'s fields as a copy of `source`'s.
  FieldBuilder(Record& record, const Record& source);
  // Adds a field (the key is sanitised by appendFieldKey).
  void add(std::string_view key, std::string_view value);
  // Adds a field whose key is `prefix` followed by `key` (both sanitised).
  void add(std::string_view prefix, std::string_view key, std::string_view value);
  // Adds the fields_dropped count, if any was dropped. Call once at the end.
  void finish();

 private:
  static constexpr size_t kLinearFields = 32;  // more fields than this: keys are looked up in index_
  void addSanitized(std::string& key, std::string_view value);
  bool has(std::string_view key) const;
  void remember(const std::string& key);

  Record& record_;
  size_t sourceFields_;
  size_t bytes_ = 0;
  size_t dropped_ = 0;
  std::string key_;                        // reused
  std::unordered_set<std::string> index_;  // every key, once there are many
};

}  // namespace logship
