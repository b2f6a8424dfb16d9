#include <algorithm>
#include <charconv>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "core/compress.hpp"
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

Message requeuedMessage(const Message& deadLetter) {
  Message m = deadLetter;
  std::erase_if(m.headers, [](const Header& h) {
    return h.key == wire::kDeadReason || h.key == wire::kDeadQueue || h.key == wire::kDeliveries;
  });
  return m;
}

std::string tooLargeReasonAfterSize(size_t limit, OversizeBody body) {
  std::string reason = fmt::format("bytes is over the limit of {} bytes (--max-message-bytes)", limit);
  if (body == OversizeBody::Read) return reason;
  reason += "; its body was not read (refused from its declared size): ";
  reason += body == OversizeBody::SkippedUnread ? "only its headers are kept"
                                                : "it was moved to the dead list within Redis, body and headers";
  return reason;
}

std::string tooLargeReason(uint64_t size, size_t limit, OversizeBody body) {
  return fmt::format("message of {} {}", size, tooLargeReasonAfterSize(limit, body));
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

bool decodeMessage(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs, Record& out,
                   std::string& error) {
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

BatchBuilder::BatchBuilder() = default;
BatchBuilder::~BatchBuilder() = default;
BatchBuilder::BatchBuilder(BatchBuilder&&) noexcept = default;
BatchBuilder& BatchBuilder::operator=(BatchBuilder&&) noexcept = default;

void BatchBuilder::setCompression(int zstdLevel) {
  compressor_ = zstdLevel != 0 ? std::make_unique<BodyCompressor>(zstdLevel) : nullptr;
}

void BatchBuilder::finish(Message& out) {
  if (count_ <= 1) {
    encodeRecord(first_, out);
    count_ = 0;
    return;
  }
  first_.message.clear();
  encodeRecord(first_, out);
  if (compressor_) {
    compressor_->compress(body_, out.body);
    out.headers.push_back({std::string(wire::kEncoding), std::string(wire::kZstd)});
  } else {
    out.body.swap(body_);
  }
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

bool isZstdBatch(const Message& message) {
  return std::any_of(message.headers.begin(), message.headers.end(),
                     [](const Header& h) { return h.key == wire::kEncoding && h.value == wire::kZstd; });
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

bool splitRecordId(std::string_view id, std::string_view& prefix, uint64_t& n) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) return false;
  const std::string_view digits = id.substr(dash + 1);
  if (digits.size() > 19 || (digits.size() > 1 && digits[0] == '0')) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc{} || ptr != digits.data() + digits.size()) return false;
  prefix = id.substr(0, dash);
  n = v;
  return true;
}

RecordIdRef recordIdRef(std::string_view id) {
  RecordIdRef r;
  if (!splitRecordId(id, r.prefix, r.n)) r.raw = id;
  return r;
}

void appendRecordId(std::string& out, const RecordIdRef& id) {
  if (id.prefix.empty()) {
    out += id.raw;
    return;
  }
  out += id.prefix;
  out += '-';
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, id.n).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
}

bool DecodedMessage::decode(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs,
                            std::string& error) {
  count_ = 0;
  batch_ = false;
  body_ = body;
  firstId_ = {};
  const Header* batch = nullptr;
  const Header* deltas = nullptr;
  bool enveloped = false;
  for (const auto& h : headers) {
    if (h.key == wire::kBatch) batch = &h;
    if (h.key == wire::kTsDeltas) deltas = &h;
    if (h.key == wire::kVersion) enveloped = true;
  }
  // A plain message's headers mean nothing (its body is the text, whatever it claims).
  if (enveloped) {
    if (!inflatedBody(body, headers, inflated_, body, error)) return false;
    body_ = body;
  }
  if (batch == nullptr || !enveloped) {
    if (!decodeMessage(body, headers, fallbackTimestampUs, meta_, error)) return false;
    firstId_ = recordIdRef(meta_.id);
    count_ = 1;
    return true;
  }
  if (!decodeMessage({}, headers, fallbackTimestampUs, meta_, error)) return false;
  uint64_t n = 0;
  if (!batch->isString || !parseU64(batch->value, n) || n < 1 || n > wire::kMaxBatchRecords) {
    error = fmt::format("header {} must be a record count from 1 to {}, got '{}'", wire::kBatch, wire::kMaxBatchRecords,
                        escaped(batch->value));
    return false;
  }
  starts_.clear();
  starts_.push_back(0);
  for (const char* p = body.data();
       (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(body.data() + body.size() - p)))) !=
       nullptr;
       ++p) {
    starts_.push_back(static_cast<size_t>(p - body.data()) + 1);
    if (starts_.size() > n) break;
  }
  if (starts_.size() != n) {
    error = fmt::format("batch of {} records holds {} lines", n,
                        static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1);
    return false;
  }
  starts_.push_back(body.size() + 1);
  if (!meta_.id.empty()) {
    firstId_ = recordIdRef(meta_.id);
    if (n > 1 && (firstId_.prefix.empty() || firstId_.n > UINT64_MAX - n)) {
      error = fmt::format("header {} of a batch must end in -<number>, got '{}'", wire::kId, escaped(meta_.id));
      return false;
    }
  }
  std::string_view rest = deltas != nullptr ? std::string_view(deltas->value) : std::string_view();
  if (deltas != nullptr &&
      (!deltas->isString || static_cast<size_t>(std::count(rest.begin(), rest.end(), ',')) + 1 != n - 1)) {
    error = fmt::format("header {} must hold {} comma-separated numbers", wire::kTsDeltas, n - 1);
    return false;
  }
  timestamps_.resize(n);
  int64_t ts = meta_.timestampUs;
  timestamps_[0] = ts;
  for (uint64_t i = 1; i < n; ++i) {
    if (deltas != nullptr) {
      const auto comma = rest.find(',');
      uint64_t d = 0;
      if (!parseU64(rest.substr(0, comma), d) || d > (uint64_t{1} << 62)) {
        error = fmt::format("header {} holds a bad number '{}'", wire::kTsDeltas, escaped(rest.substr(0, comma)));
        return false;
      }
      ts += static_cast<int64_t>(d);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    timestamps_[i] = ts;
  }
  batch_ = true;
  count_ = n;
  return true;
}

Record DecodedMessage::record(size_t i) const {
  Record r = meta_;
  r.message.assign(message(i));
  r.timestampUs = timestampUs(i);
  if (count_ > 1 && !firstId_.empty()) {
    r.id.clear();
    appendRecordId(r.id, id(i));
  }
  return r;
}

bool decodeRecords(std::string_view body, std::span<const Header> headers, int64_t fallbackTimestampUs,
                   std::vector<Record>& out, std::string& error) {
  DecodedMessage decoded;
  if (!decoded.decode(body, headers, fallbackTimestampUs, error)) return false;
  out.reserve(out.size() + decoded.size());
  for (size_t i = 0; i < decoded.size(); ++i) out.push_back(decoded.record(i));
  return true;
}

}  // namespace logship
