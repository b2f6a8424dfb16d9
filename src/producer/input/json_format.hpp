#pragma once
// `--input-format json`: one JSON object per line (docs/FORMATS.md, "JSON input"). The keys common
// loggers write are mapped (case-insensitively, at the top level):
//   message   <- message, msg, log          (else the message is the whole line)
//   level     <- level, severity, lvl, levelname   (names; syslog severities 0-7; bunyan/pino 10-60)
//   timestamp <- timestamp, @timestamp, time, ts   (RFC 3339; epoch s, ms, us or ns by magnitude)
//   service   <- service, app, application
//   host      <- host, hostname
// Every other key becomes a field, in key order: nested objects flattened with dots (`http.status`), arrays as
// their JSON text, numbers, booleans and null as their JSON text. A value that cannot be mapped (a
// level word nobody uses) stays a field under its own key. A line that is not a JSON object is a
// record all the same: the line as its message and a field parse_error with the reason.
#include <string_view>

#include "core/record.hpp"
#include "producer/input/line_format.hpp"

namespace logship {

// Objects and arrays nested deeper than this are not parsed (the line is kept raw, with parse_error).
inline constexpr int kMaxJsonDepth = 64;

// Makes `out` from one line. `source` gives what the line does not say (its message and timestamp
// are ignored). Returns false when the line is not a JSON object (the record then carries the line
// and parse_error).
bool jsonLineToRecord(std::string_view line, const Record& source, Record& out);

class JsonFormat : public LineFormat {
 public:
  bool ship(Shipper& shipper, std::string_view text, const Record& source) override;

 private:
  Record record_;  // reused: its strings keep their capacity
};

}  // namespace logship
