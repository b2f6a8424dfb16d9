// --input-format json (producer/input/json_format.hpp) on arbitrary lines: never crashes, every line
// is one record; a line it could not map keeps its bytes as the message with a parse_error field;
// metadata stays bounded and field keys well-formed.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.hpp"
#include "producer/input/json_format.hpp"
#include "producer/input/record_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace logship;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  Record source;
  source.fields.push_back({"env", "fuzz"});
  Record out;
  const bool ok = jsonLineToRecord(line, source, out);
  const bool parseError = fuzz::requireBoundedMetadata(out);
  if (!ok && (out.message != line || !parseError || out.timestampUs != 0)) std::abort();
  return 0;
}
