// The Redis envelope decoder (broker/redis/envelope.hpp): never crashes, rejects with one safe
// error line, and whatever it accepts survives encode -> decode unchanged.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "broker/redis/envelope.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string body;
  std::vector<logship::Header> headers;
  std::string error;
  if (!logship::redis::decodeEnvelope(in, body, headers, error)) {
    if (error.empty()) std::abort();
    logship::fuzz::requireSafeLine(error);
    return 0;
  }
  if (!in.starts_with(logship::redis::kEnvelopeMagic) && (body != in || !headers.empty())) std::abort();
  logship::Message m{body, headers};
  std::string encoded;
  logship::redis::encodeEnvelope(m, encoded);
  std::string body2;
  std::vector<logship::Header> headers2;
  if (!logship::redis::decodeEnvelope(encoded, body2, headers2, error)) std::abort();
  if (body2 != body || headers2.size() != headers.size()) std::abort();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (headers2[i].key != headers[i].key || headers2[i].value != headers[i].value) std::abort();
  }
  return 0;
}
