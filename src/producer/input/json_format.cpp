#include "producer/input/json_format.hpp"

#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/timestamp.hpp"
#include "producer/input/record_fields.hpp"
#include "producer/input/syslog_parse.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

// Objects as std::map: fields come out in key order. (ordered_json would keep the line's order, but
// its objects are vectors searched on every insert: a line with 50,000 keys took seconds.)
using Json = nlohmann::json;

constexpr std::array<std::string_view, 3> kMessageKeys{"message", "msg", "log"};
constexpr std::array<std::string_view, 4> kLevelKeys{"level", "severity", "lvl", "levelname"};
constexpr std::array<std::string_view, 4> kTimeKeys{"timestamp", "@timestamp", "time", "ts"};
constexpr std::array<std::string_view, 3> kServiceKeys{"service", "app", "application"};
constexpr std::array<std::string_view, 2> kHostKeys{"host", "hostname"};

bool equalsLower(std::string_view key, std::string_view lower) {
  if (key.size() != lower.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) != lower[i]) return false;
  }
  return true;
}

// How deep objects and arrays nest, looking at brackets outside strings (the line may be invalid).
int nestingDepth(std::string_view s) {
  int depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// "invalid JSON at byte 12: syntax error while parsing value - invalid literal" from nlohmann's
// "[json.exception.parse_error.101] parse error at line 1, column 12: syntax error ...; last read: ...".
std::string shortReason(const nlohmann::json::parse_error& e) {
  std::string_view what = e.what();
  std::string_view detail;
  if (const size_t column = what.find("column "); column != std::string_view::npos) {
    if (const size_t colon = what.find(": ", column); colon != std::string_view::npos) {
      detail = what.substr(colon + 2);
      detail = detail.substr(0, detail.find("; last read"));
    }
  }
  if (detail.size() > 160) detail = detail.substr(0, 160);
  return detail.empty() ? fmt::format("invalid JSON at byte {}", e.byte)
                        : fmt::format("invalid JSON at byte {}: {}", e.byte, detail);
}

std::string text(const Json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Level> levelOfNumber(double n) {
  if (!std::isfinite(n) || n < 0 || n != std::floor(n)) return std::nullopt;
  if (n <= 7) return syslogSeverityLevel(static_cast<unsigned>(n));  // syslog severities (GELF)
  if (n < 10) return std::nullopt;
  if (n < 20) return Level::Trace;  // bunyan / pino: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
  if (n < 30) return Level::Debug;
  if (n < 40) return Level::Info;
  if (n < 50) return Level::Warn;
  if (n < 60) return Level::Error;
  return Level::Fatal;
}

std::optional<double> numberOfText(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  size_t dots = 0;
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  if (dots > 1 || s.front() == '.' || s.back() == '.') return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

std::optional<Level> levelOf(const Json& v) {
  if (v.is_number()) return levelOfNumber(v.get<double>());
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (auto level = parseLevel(s)) return level;
  if (auto n = numberOfText(s)) return levelOfNumber(*n);
  for (std::string_view name : {"notice", "informational", "information"}) {
    if (equalsLower(s, name)) return Level::Info;
  }
  for (std::string_view name : {"emerg", "emergency", "alert", "panic", "dpanic"}) {
    if (equalsLower(s, name)) return Level::Fatal;
  }
  if (equalsLower(s, "verbose")) return Level::Debug;
  return std::nullopt;
}

constexpr int64_t kMaxEpochSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

// Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
std::optional<int64_t> microsOfEpoch(double n) {
  if (!std::isfinite(n) || n <= 0) return std::nullopt;
  double micros = 0;
  if (n < 1e11) {
    micros = n * 1e6;  // seconds (until the year 5138)
  } else if (n < 1e14) {
    micros = n * 1e3;  // milliseconds
  } else if (n < 1e17) {
    micros = n;  // microseconds
  } else {
    micros = n / 1e3;  // nanoseconds
  }
  if (micros > static_cast<double>(kMaxEpochSeconds) * 1e6) return std::nullopt;
  return static_cast<int64_t>(micros);
}

std::optional<int64_t> timeOf(const Json& v) {
  if (v.is_number_integer()) {
    // Exactly, without a detour through double (nanoseconds have 19 digits).
    const int64_t n = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX))
                                             : v.get<int64_t>();
    if (n <= 0) return std::nullopt;
    if (n < 100'000'000'000LL) return n * 1'000'000;
    if (n < 100'000'000'000'000LL) return n * 1'000;
    if (n < 100'000'000'000'000'000LL)
      return n <= kMaxEpochSeconds * 1'000'000 ? std::optional<int64_t>(n) : std::nullopt;
    return n / 1'000 <= kMaxEpochSeconds * 1'000'000 ? std::optional<int64_t>(n / 1'000) : std::nullopt;
  }
  if (v.is_number()) return microsOfEpoch(v.get<double>());
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (auto t = parseTimestamp(s)) return t;
  if (auto n = numberOfText(s)) return microsOfEpoch(*n);
  return std::nullopt;
}

void flatten(FieldBuilder& fields, std::string& key, const Json& v) {
  if (v.is_object() && !v.empty()) {
    const size_t length = key.size();
    for (const auto& [k, child] : v.items()) {
      key.resize(length);
      key += '.';
      key += k;
      flatten(fields, key, child);
    }
    key.resize(length);
    return;
  }
  fields.add(key, text(v));
}

// The value of the first key of `names` (in their order) present in `object` for which `accept` is true.
template <size_t N, typename Accept>
const Json* firstUsable(const Json& object, const std::array<std::string_view, N>& names, Accept accept) {
  for (std::string_view name : names) {
    for (const auto& [k, v] : object.items()) {
      if (equalsLower(k, name) && accept(v)) return &v;
    }
  }
  return nullptr;
}

bool nonEmptyString(const Json& v) { return v.is_string() && !v.get_ref<const std::string&>().empty(); }

}  // namespace

bool jsonLineToRecord(std::string_view line, const Record& source, Record& out) {
  out.timestampUs = 0;
  out.level = source.level;
  out.service = source.service;
  out.host = source.host;
  out.id.clear();
  FieldBuilder fields(out, source);
  auto raw = [&](std::string_view reason) {
    out.message.assign(line);
    fields.add(kParseErrorField, reason);
    fields.finish();
    return false;
  };
  if (nestingDepth(line) > kMaxJsonDepth) {
    return raw(fmt::format("JSON nested deeper than {} levels: not parsed", kMaxJsonDepth));
  }
  Json object;
  try {
    object = Json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::parse_error& e) {
    return raw(shortReason(e));
  } catch (const nlohmann::json::exception& e) {  // a number too large for a double (out_of_range 406)
    std::string_view what = e.what();
    if (const size_t end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
    return raw(fmt::format("invalid JSON: {}", what.substr(0, 160)));
  }
  if (!object.is_object())
    return raw(fmt::format("not a JSON object but {} {}", object.is_array() ? "an" : "a", object.type_name()));

  const Json* message = firstUsable(object, kMessageKeys, [](const Json&) { return true; });
  const Json* level = firstUsable(object, kLevelKeys, [](const Json& v) { return levelOf(v).has_value(); });
  const Json* when = firstUsable(object, kTimeKeys, [](const Json& v) { return timeOf(v).has_value(); });
  const Json* service = firstUsable(object, kServiceKeys, nonEmptyString);
  const Json* host = firstUsable(object, kHostKeys, nonEmptyString);
  if (message != nullptr) {
    out.message = text(*message);
  } else {
    out.message.assign(line);
  }
  if (level != nullptr) out.level = *levelOf(*level);
  if (when != nullptr) out.timestampUs = *timeOf(*when);
  if (service != nullptr) assignName(out.service, service->get_ref<const std::string&>());
  if (host != nullptr) assignName(out.host, host->get_ref<const std::string&>());

  std::string key;
  for (const auto& [k, v] : object.items()) {
    if (&v == message || &v == level || &v == when || &v == service || &v == host) continue;
    key.assign(k);
    flatten(fields, key, v);
  }
  fields.finish();
  return true;
}

bool JsonFormat::ship(Shipper& shipper, std::string_view text, const Record& source) {
  jsonLineToRecord(text, source, record_);
  return shipper.ship(record_);
}

}  // namespace logship
