// The line escaper: whatever the bytes, the result is one safe line, and text that needs no
// escaping is copied unchanged. And the text format reads back exactly: the input, cut at NUL
// bytes into service, host, message and field keys and values, formatted as a text line and
// parsed again, gives the same record.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/output_format.hpp"
#include "fuzz_support.hpp"

namespace {

// The record whose parts are the NUL-separated pieces of `in`: service, host, message, then
// key, value pairs.
logship::Record recordOf(std::string_view in) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t nul = in.find('\0'); nul != std::string_view::npos; nul = in.find('\0', start)) {
    parts.emplace_back(in.substr(start, nul - start));
    start = nul + 1;
  }
  parts.emplace_back(in.substr(start));
  parts.resize(std::max<size_t>(parts.size(), 3));
  logship::Record r;
  r.timestampUs = 1'764'000'000'123'456;
  r.service = parts[0];
  r.host = parts[1];
  r.message = parts[2];
  for (size_t i = 3; i + 1 < parts.size(); i += 2) r.fields.push_back({parts[i], parts[i + 1]});
  return r;
}

void requireTextRoundTrip(const logship::Record& r) {
  std::string line;
  logship::appendFormatted(line, logship::OutputFormat::Text, r);
  if (line.empty() || line.back() != '\n') std::abort();
  line.pop_back();
  logship::fuzz::requireSafeLine(line);
  logship::LineParts parts;
  if (!logship::parseLine(logship::OutputFormat::Text, line, parts)) std::abort();
  logship::Record back = logship::recordFromLine(logship::OutputFormat::Text, parts);
  back.id = r.id;
  if (!(back == r)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string out = logship::escaped(in);
  logship::fuzz::requireSafeLine(out);
  if (out.size() < in.size()) std::abort();  // escaping never drops bytes
  bool plain = true;
  for (unsigned char c : in) plain = plain && c >= 0x20 && c < 0x7f && c != '\\';
  if (plain && out != in) std::abort();
  requireTextRoundTrip(recordOf(in));
  return 0;
}
