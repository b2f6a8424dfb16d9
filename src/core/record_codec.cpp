#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/escape.hpp"
#include "core/message.hpp"

namespace logship {

uint32_t recordedDeliveries(std::span<const Header> headers) {
  for (const auto& h : headers) {
    if (h.key != wire::kDeliveries) continue;
    const std::string& v = h.value;
    if (!h.isString || v.empty() || v.size() > 9) return 0;
    uint32_t count = 0;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), count);
    return ec == std::errc{} && ptr == v.data() + v.size() ? count : 0;
  }
  return 0;
}

void setRecordedDeliveries(std::vector<Header>& headers, uint32_t count) {
  std::erase_if(headers, [](const Header& h) { return h.key == wire::kDeliveries; });
  headers.push_back({std::string(wire::kDeliveries), std::to_string(std::min(count, wire::kMaxDeliveries))});
}

void encodeRecord(const Record& record, Message& out) {
  out.body = record.message;
  out.headers.clear();
  out.headers.reserve(6 + record.fields.size());
  out.headers.push_back({std::string(wire::kVersion), std::string(wire::kCurrentVersion)});
  out.headers.push_back({std::string(wire::kTimestamp), std::to_string(record.timestampUs)});
  out.headers.push_back({std::string(wire::kLevel), std::string(levelName(record.level))});
  out.headers.push_back({std::string(wire::kService), record.service});
  out.headers.push_back({std::string(wire::kHost), record.host});
  for (const auto& f : record.fields) {
    out.headers.push_back({std::string(wire::kFieldPrefix) + f.key, f.value});
  }
  if (!record.id.empty()) out.headers.push_back({std::string(wire::kId), record.id});
}

bool decodeMessage(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs,
                   Record& out, std::string& error) {
  out = Record{};
  out.message.assign(body);
  out.timestampUs = fallbackTimestampUs;

  const Header* version = nullptr;
  for (const auto& h : headers) {
    if (h.key == wire::kVersion) version = &h;
  }
  if (version == nullptr) return true;  // a plain message from any client
  if (!version->isString || version->value != wire::kCurrentVersion) {
    error = fmt::format("unsupported envelope version {}", escaped(version->value));
    return false;
  }
  for (const auto& h : headers) {
    std::string_view key = h.key;
    if (!key.starts_with("logship-") || key == wire::kVersion) continue;
    if (!h.isString) {
      error = fmt::format("header {} must be a string, got {}", escaped(key), escaped(h.value));
      return false;
    }
    if (key == wire::kTimestamp) {
      int64_t ts = 0;
      auto [ptr, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), ts);
      if (ec != std::errc{} || ptr != h.value.data() + h.value.size()) {
        error = fmt::format("header {} is not an integer: '{}'", wire::kTimestamp, escaped(h.value));
        return false;
      }
      out.timestampUs = ts;
    } else if (key == wire::kLevel) {
      auto level = parseLevel(h.value);
      if (!level) {
        error = fmt::format("header {} has unknown level '{}'", wire::kLevel, escaped(h.value));
        return false;
      }
      out.level = *level;
    } else if (key == wire::kService) {
      out.service = h.value;
    } else if (key == wire::kHost) {
      out.host = h.value;
    } else if (key == wire::kId) {
      out.id = h.value;
    } else if (key.starts_with(wire::kFieldPrefix)) {
      out.fields.push_back({std::string(key.substr(wire::kFieldPrefix.size())), h.value});
    }
    // Other logship-* headers (e.g. a dead-letter reason on a replayed message) carry no record data.
  }
  return true;
}

}  // namespace logship
