#pragma once
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/escape.hpp"

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

}  // namespace logship::fuzz
