// --input-format json (producer/input/json_format.hpp) on arbitrary lines: never crashes, every line
// is one record; a line it could not map keeps its bytes as the message with a parse_error field;
// metadata stays bounded and field keys well-formed.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "producer/input/json_format.hpp"
#include "producer/input/record_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace logship;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  Record source;
  source.fields.push_back({"env", "fuzz"});
  Record out;
  const bool ok = jsonLineToRecord(line, source, out);
  if (out.host.empty() || out.host.size() > kMaxServiceHostBytes) std::abort();
  if (out.service.empty() || out.service.size() > kMaxServiceHostBytes) std::abort();
  size_t bytes = 0;
  bool parseError = false;
  for (const auto& f : out.fields) {
    if (f.key.empty() || f.key.size() > kMaxFieldKeyBytes) std::abort();
    for (unsigned char c : f.key) {
      if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) std::abort();
    }
    bytes += f.key.size() + f.value.size();
    parseError = parseError || f.key == kParseErrorField;
  }
  if (bytes > kMaxFieldBytes + 200) std::abort();
  if (!ok && (out.message != line || !parseError || out.timestampUs != 0)) std::abort();
  return 0;
}
