// The line escaper: whatever the bytes, the result is one safe line, and text that needs no
// escaping is copied unchanged.
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string out = logship::escaped(in);
  logship::fuzz::requireSafeLine(out);
  if (out.size() < in.size()) std::abort();  // escaping never drops bytes
  bool plain = true;
  for (unsigned char c : in) plain = plain && c >= 0x20 && c < 0x7f && c != '\\';
  if (plain && out != in) std::abort();
  return 0;
}
