#pragma once
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/escape.hpp"
#include "core/record.hpp"
#include "producer/input/record_fields.hpp"

namespace logship::fuzz {

// Aborts (a finding) unless `s` is valid UTF-8 without C0, DEL, C1, U+2028 or U+2029.
inline void requireSafeLine(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = decodeUtf8(s.substr(i), cp);
    if (len == 0) std::abort();
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) std::abort();
    i += len;
  }
}

// Aborts unless a record an input made has the bounds record_fields.hpp promises: a service and a
// host of 1 to 255 bytes, field keys of 1 to 128 bytes of [A-Za-z0-9_.-], at most 64 KiB of fields
// (and the fields_dropped count). Returns whether it holds a parse_error field.
inline bool requireBoundedMetadata(const Record& r) {
  if (r.host.empty() || r.host.size() > kMaxServiceHostBytes) std::abort();
  if (r.service.empty() || r.service.size() > kMaxServiceHostBytes) std::abort();
  size_t bytes = 0;
  bool parseError = false;
  for (const auto& f : r.fields) {
    if (f.key.empty() || f.key.size() > kMaxFieldKeyBytes) std::abort();
    for (unsigned char c : f.key) {
      if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) std::abort();
    }
    bytes += f.key.size() + f.value.size();
    parseError = parseError || f.key == kParseErrorField;
  }
  if (bytes > kMaxFieldBytes + 200) std::abort();
  return parseError;
}

}  // namespace logship::fuzz
