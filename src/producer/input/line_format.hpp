#pragma once
// How the text of a line-based input (stdin, followed files; after multiline joining) becomes a
// record: `--input-format text` (the default: the line is the message) or `json` (one object per
// line, its fields mapped). Inputs hold a LineFormat& and call ship() once per record.
#include <string_view>

#include "core/record.hpp"

namespace logship {

class Shipper;

class LineFormat {
 public:
  virtual ~LineFormat() = default;
  // Ships one record made from `text`. `source` is the metadata of where it came from: the
  // shipper's template (Shipper::recordTemplate()) or a copy with more fields (a file's path);
  // its message and timestamp are ignored. Returns Shipper::ship's result.
  virtual bool ship(Shipper& shipper, std::string_view text, const Record& source) = 0;
};

// The line is the message; the metadata is the source's; the time is now.
class TextFormat : public LineFormat {
 public:
  bool ship(Shipper& shipper, std::string_view text, const Record& source) override;

 private:
  Record record_;  // reused: its strings keep their capacity
};

}  // namespace logship
