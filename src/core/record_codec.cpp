#include <algorithm>
#include <charconv>
#include <iterator>

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

void BatchBuilder::start(const Record& first) {
  first_ = first;
  body_ = first.message;
  deltas_.clear();
  anyDelta_ = false;
  lastTs_ = first.timestampUs;
  count_ = 1;
}

void BatchBuilder::add(std::string_view message, int64_t timestampUs) {
  body_ += '\n';
  body_ += message;
  const int64_t delta = std::max<int64_t>(0, timestampUs - lastTs_);
  lastTs_ += delta;
  if (!deltas_.empty() || count_ > 1) deltas_ += ',';
  fmt::format_to(std::back_inserter(deltas_), "{}", delta);
  anyDelta_ = anyDelta_ || delta != 0;
  ++count_;
}

void BatchBuilder::finish(Message& out) {
  if (count_ <= 1) {
    encodeRecord(first_, out);
    count_ = 0;
    return;
  }
  first_.message.clear();
  encodeRecord(first_, out);
  out.body.swap(body_);
  out.headers.push_back({std::string(wire::kBatch), std::to_string(count_)});
  if (anyDelta_) out.headers.push_back({std::string(wire::kTsDeltas), deltas_});
  count_ = 0;
  body_.clear();
}

namespace {

bool parseU64(std::string_view s, uint64_t& v) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc{} && ptr == s.data() + s.size();
}

}  // namespace

bool splitRecordId(std::string_view id, std::string_view& instance, uint64_t& n) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) return false;
  const std::string_view digits = id.substr(dash + 1);
  if (digits.size() > 19 || (digits.size() > 1 && digits[0] == '0')) return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || ptr != digits.data() + digits.size()) return false;
  instance = id.substr(0, dash);
  return true;
}

uint64_t recordCount(const Message& message) {
  for (const auto& h : message.headers) {
    if (h.key == wire::kBatch) {
      uint64_t n = 0;
      return parseU64(h.value, n) && n > 0 ? n : 1;
    }
  }
  return 1;
}

bool decodeRecords(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs,
                   std::vector<Record>& out, std::string& error) {
  const Header* batch = nullptr;
  const Header* deltas = nullptr;
  bool enveloped = false;
  for (const auto& h : headers) {
    if (h.key == wire::kBatch) batch = &h;
    if (h.key == wire::kTsDeltas) deltas = &h;
    if (h.key == wire::kVersion) enveloped = true;
  }
  Record first;
  if (batch == nullptr || !enveloped) {
    if (!decodeMessage(body, headers, fallbackTimestampUs, first, error)) return false;
    out.push_back(std::move(first));
    return true;
  }
  if (!decodeMessage({}, headers, fallbackTimestampUs, first, error)) return false;
  uint64_t n = 0;
  if (!batch->isString || !parseU64(batch->value, n) || n < 1 || n > wire::kMaxBatchRecords) {
    error = fmt::format("header {} must be a record count from 1 to {}, got '{}'", wire::kBatch,
                        wire::kMaxBatchRecords, escaped(batch->value));
    return false;
  }
  const size_t lines = static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1;
  if (lines != n) {
    error = fmt::format("batch of {} records holds {} lines", n, lines);
    return false;
  }
  std::string_view prefix;
  uint64_t firstSeq = 0;
  if (!first.id.empty() && n > 1) {
    const auto dash = first.id.rfind('-');
    if (dash == std::string::npos || !parseU64(std::string_view(first.id).substr(dash + 1), firstSeq) ||
        firstSeq > UINT64_MAX - n) {
      error = fmt::format("header {} of a batch must end in -<number>, got '{}'", wire::kId, escaped(first.id));
      return false;
    }
    prefix = std::string_view(first.id).substr(0, dash + 1);
  }
  std::string_view rest = deltas != nullptr ? std::string_view(deltas->value) : std::string_view();
  if (deltas != nullptr && (!deltas->isString || static_cast<size_t>(std::count(rest.begin(), rest.end(), ',')) + 1 != n - 1)) {
    error = fmt::format("header {} must hold {} comma-separated numbers", wire::kTsDeltas, n - 1);
    return false;
  }
  const size_t before = out.size();
  int64_t ts = first.timestampUs;
  size_t pos = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (i > 0 && deltas != nullptr) {
      const auto comma = rest.find(',');
      uint64_t d = 0;
      if (!parseU64(rest.substr(0, comma), d) || d > (uint64_t{1} << 62)) {
        out.resize(before);
        error = fmt::format("header {} holds a bad number '{}'", wire::kTsDeltas, escaped(rest.substr(0, comma)));
        return false;
      }
      ts += static_cast<int64_t>(d);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    const auto end = std::min(body.find('\n', pos), body.size());
    Record& r = out.emplace_back(first);
    r.message.assign(body.substr(pos, end - pos));
    r.timestampUs = ts;
    if (!prefix.empty()) {
      r.id.assign(prefix);
      fmt::format_to(std::back_inserter(r.id), "{}", firstSeq + i);
    }
    pos = end + 1;
  }
  return true;
}

}  // namespace logship
