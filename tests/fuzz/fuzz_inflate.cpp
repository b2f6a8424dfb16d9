// Compressed batches (core/compress.hpp): a message marked logship-encoding: zstd whose body is
// anything at all never crashes the decoder and never takes more memory than the limit; a body
// that inflates and decodes gives exactly the batch's count of records, each one line. Input
// layout: one byte (the batch's record count minus 1), then the body's bytes (NULs included).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/compress.hpp"
#include "core/message.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t count = size_t{data[0]} + 1;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::vector<logship::Header> headers{
      {"logship-version", "1"}, {"logship-batch", std::to_string(count)}, {"logship-encoding", "zstd"}};
  std::vector<logship::Record> records;
  std::string error;
  if (!logship::decodeRecords(body, headers, 0, records, error)) {
    if (error.empty() || !records.empty()) std::abort();
    logship::fuzz::requireSafeLine(error);
    return 0;
  }
  if (records.size() != count) std::abort();
  for (const auto& r : records) {
    if (r.message.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
