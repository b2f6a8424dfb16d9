#include "producer/input/line_format.hpp"

#include "producer/shipper.hpp"

namespace logship {

bool TextFormat::ship(Shipper& shipper, std::string_view text, const Record& source) {
  if (&source == &shipper.recordTemplate()) return shipper.ship(text);  // the fast path: no copy
  record_.level = source.level;
  record_.service = source.service;
  record_.host = source.host;
  record_.fields = source.fields;
  record_.message.assign(text);
  record_.timestampUs = 0;
  return shipper.ship(record_);
}

}  // namespace logship
