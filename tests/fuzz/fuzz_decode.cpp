// The wire envelope decoder (single records and batches) followed by every output format: never
// crashes, and a record that decodes is always exactly one line. The failed-delivery count of the
// same headers stays in bounds and round-trips. Input layout: body, then header key/value pairs, separated
// by NUL bytes; a key starting with '#' marks its value as a non-string transport value.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/message.hpp"
#include "core/output_format.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (size_t pos; (pos = in.find('\0')) != std::string_view::npos;) {
    parts.push_back(in.substr(0, pos));
    in.remove_prefix(pos + 1);
  }
  parts.push_back(in);
  std::vector<logship::Header> headers;
  for (size_t i = 1; i + 1 < parts.size(); i += 2) {
    logship::Header h;
    h.isString = !parts[i].starts_with('#');
    h.key = std::string(h.isString ? parts[i] : parts[i].substr(1));
    h.value = std::string(parts[i + 1]);
    headers.push_back(std::move(h));
  }
  // The failed-delivery count (poison messages) reads the same headers: always a count within
  // bounds, and writing it back reads back the same.
  const uint32_t failures = logship::recordedDeliveries(headers);
  if (failures > logship::wire::kMaxDeliveries) std::abort();
  {
    std::vector<logship::Header> copy = headers;
    logship::setRecordedDeliveries(copy, failures + 1);
    if (logship::recordedDeliveries(copy) != std::min(failures + 1, logship::wire::kMaxDeliveries)) std::abort();
  }
  // Batches too (logship-batch): every record of a message that decodes is exactly one line.
  std::vector<logship::Record> records;
  std::string error;
  if (!logship::decodeRecords(parts[0], headers, 0, records, error)) {
    if (error.empty() || !records.empty()) std::abort();
    logship::fuzz::requireSafeLine(error);
    return 0;
  }
  if (records.empty()) std::abort();
  // The aggregator's path (views, metadata formatted once) writes exactly the same lines.
  logship::DecodedMessage decoded;
  std::string error2;
  if (!decoded.decode(parts[0], headers, 0, error2) || decoded.size() != records.size()) std::abort();
  for (auto format : {logship::OutputFormat::Text, logship::OutputFormat::Raw, logship::OutputFormat::Json}) {
    logship::LineFormatter formatter(format);
    formatter.setMetadata(decoded.metadata());
    std::string viaViews;
    std::string viaRecords;
    for (size_t i = 0; i < decoded.size(); ++i) {
      formatter.append(viaViews, decoded.timestampUs(i), decoded.message(i));
      logship::appendFormatted(viaRecords, format, records[i]);
    }
    if (viaViews != viaRecords) std::abort();
  }
  for (const auto& record : records) {
    for (auto format : {logship::OutputFormat::Text, logship::OutputFormat::Raw, logship::OutputFormat::Json}) {
      std::string line;
      logship::appendFormatted(line, format, record);
      if (line.empty() || line.back() != '\n') std::abort();
      if (line.find('\n') != line.size() - 1 || line.find('\r') != std::string::npos) std::abort();
      logship::fuzz::requireSafeLine(std::string_view(line).substr(0, line.size() - 1));
    }
  }
  return 0;
}
