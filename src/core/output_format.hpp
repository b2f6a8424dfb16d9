#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/record.hpp"

namespace logship {

enum class OutputFormat {
  Text,  // 2026-11-24T08:25:07.123456Z INFO  service@host message | key=value ...
  Raw,   // the message text only, as the tutorial's consumer writes it (escaped)
  Json,  // one JSON object per line
};

std::optional<OutputFormat> parseOutputFormat(std::string_view name);
std::string_view outputFormatName(OutputFormat format);

// Appends exactly one line (ending in '\n') for `record`. Whatever bytes the record holds, the
// appended text contains no other '\n' or '\r' and is valid UTF-8 (core/escape.hpp).
void appendFormatted(std::string& out, OutputFormat format, const Record& record);

// appendFormatted for many records that share level, service, host and fields (a batch): what they
// share is formatted once by setMetadata, then append() adds one record's line from its timestamp
// and message. The bytes are exactly appendFormatted's (which is written with it).
class LineFormatter {
 public:
  explicit LineFormatter(OutputFormat format) : format_(format) {}
  void setMetadata(const Record& record);  // uses level, service, host and fields
  void append(std::string& out, int64_t timestampUs, std::string_view message);

 private:
  void appendTimestamp(std::string& out, int64_t timestampUs);

  OutputFormat format_;
  bool haveMetadata_ = false;
  Level level_ = Level::Info;  // the metadata middle_ and suffix_ were made from
  std::string service_;
  std::string host_;
  std::vector<Field> fields_;
  std::string middle_;          // text: " LABEL service@host "; json: the keys and values from level to message
  std::string suffix_;          // text: " | k=v ..."; json: the closing quote, fields and brace
  int64_t second_ = INT64_MIN;  // the second whose "YYYY-MM-DDTHH:MM:SS." is in secondText_
  std::string secondText_;
};

// ---- Reading lines back (logctl search). The formats are defined here once: parseLine reads
// exactly what appendFormatted writes.

// The parts of one output line, as views into it: nothing is copied or unescaped, so a scanner can
// look at millions of lines without allocating. The parts keep the format's encoding: text and
// raw as appendEscaped writes them, json as the contents of JSON strings. To compare a part with a
// value, encode the value with encodeForLine (same format) and compare the bytes.
struct LineParts {
  std::string_view timestamp;  // text, json: kTimestampWidth bytes of RFC 3339 UTC; raw: empty
  Level level = Level::Info;   // raw: always Info (the format does not carry it)
  std::string_view service;    // text, json; raw: empty
  std::string_view host;       // text, json; raw: empty
  // json: the message. raw: the whole line. text: the message AND the " | KEY=VALUE ..." fields
  // after it (recordFromLine splits them).
  std::string_view message;
  std::string_view fields;  // json: the fields object "{...}" or empty; text, raw: empty
};

// Splits `line` (without its '\n') into its parts. Returns false if the line is not in `format`:
//  - text: TIMESTAMP ' ' LABEL ' ' SERVICE '@' HOST ' ' MESSAGE..., where TIMESTAMP has the exact
//    shape appendTimestamp writes and LABEL is one of the six level labels. SERVICE ends at the
//    first '@' and HOST at the next ' ' (the text format writes a ' ' or '@' in a name as \x20,
//    \x40: docs/FORMATS.md).
//  - json: the keys ts, level, service, host, message (and fields) in appendFormatted's order,
//    string values, the object ending the line. JSON strings are checked for their end only.
//  - raw: any line.
bool parseLine(OutputFormat format, std::string_view line, LineParts& parts);

// How `value` (a service or host name) appears inside a line of `format`: escaped for text (' ' and
// '@' too) and raw, JSON string contents (without the quotes) for json.
std::string encodeForLine(OutputFormat format, std::string_view value);

// Appends the decoded bytes of a part of a line of `format` (a service or host: the inverse of
// encodeForLine).
void decodeLinePart(OutputFormat format, std::string_view part, std::string& out);

// The record a parsed line holds, decoded (unescaped). text: the fields are split off the message
// at the last " | " followed by KEY=VALUE pairs (the only one in lines of this version, which
// escape every other " |"), each pair starting at a ' ' followed by a KEY without ' ' or '=' and
// an '='; raw: only the message (timestamp 0, level info, service and host "-").
Record recordFromLine(OutputFormat format, const LineParts& parts);

}  // namespace logship
