#include "console/params.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/escape.hpp"
#include "core/level.hpp"

namespace logship::console {
namespace {

std::optional<uint64_t> wholeNumber(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string> values(const Params& params, const std::string& name) {
  std::vector<std::string> out;
  const auto [first, last] = params.equal_range(name);
  for (auto it = first; it != last; ++it) {
    if (!it->second.empty()) out.push_back(it->second);
  }
  return out;
}

constexpr uint64_t kMaxMs = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z: the last time we take

// "s<skip>" or "s<skip>u<until µs>": opaque to clients, stable for a bookmark.
constexpr const char* kCursorPrefix = "s";
constexpr char kUntilMark = 'u';

}  // namespace

std::optional<std::string> param(const Params& params, std::string_view name) {
  const auto [first, last] = params.equal_range(std::string(name));
  if (first == last) return std::nullopt;
  return std::prev(last)->second;
}

int64_t parseTimeParam(std::string_view name, std::string_view text, int64_t nowUs) {
  if (const auto ms = wholeNumber(text)) {
    if (*ms > kMaxMs) throw ApiError(400, fmt::format("{}: '{}' is past the year 9999", name, escaped(text)));
    return static_cast<int64_t>(*ms) * 1000;
  }
  try {
    return search::parseTimeBound(name, text, nowUs);
  } catch (const UsageError& e) {
    throw ApiError(400, fmt::format("{} (or epoch milliseconds)", e.what()));
  }
}

search::Query parseFilters(const Params& params, int64_t nowUs) {
  search::Query q;
  if (auto from = param(params, "from"); from && !from->empty()) q.sinceUs = parseTimeParam("from", *from, nowUs);
  if (auto to = param(params, "to"); to && !to->empty()) q.untilUs = parseTimeParam("to", *to, nowUs);
  if (q.sinceUs && q.untilUs && *q.sinceUs >= *q.untilUs)
    throw ApiError(400, "from is not before to: nothing could match");
  if (auto level = param(params, "level"); level && !level->empty()) {
    q.minLevel = parseLevel(*level);
    if (!q.minLevel) {
      throw ApiError(
          400, fmt::format("level: unknown level '{}' (trace, debug, info, warn, error, fatal)", escaped(*level)));
    }
  }
  q.services = values(params, "service");
  q.hosts = values(params, "host");
  q.grep = param(params, "q").value_or("");
  return q;
}

uint64_t numberParam(const Params& params, std::string_view name, uint64_t fallback, uint64_t min, uint64_t max) {
  const auto text = param(params, name);
  if (!text || text->empty()) return fallback;
  const auto value = wholeNumber(*text);
  if (!value || *value < min || *value > max) {
    throw ApiError(400, fmt::format("{}: '{}' is not a whole number from {} to {}", name, escaped(*text), min, max));
  }
  return *value;
}

Page parsePage(const Params& params) {
  Page page;
  page.limit = numberParam(params, "limit", kDefaultLimit, 1, kMaxLimit);
  const auto cursor = param(params, "cursor");
  if (!cursor || cursor->empty()) return page;
  const std::string_view text(*cursor);
  const auto bad = [&] {
    return ApiError(400, fmt::format("cursor: '{}' is not a cursor this server gave", escaped(text)));
  };
  if (!text.starts_with(kCursorPrefix)) throw bad();
  const std::string_view rest = text.substr(1);
  const size_t mark = rest.find(kUntilMark);
  const auto skip = wholeNumber(rest.substr(0, mark));
  if (!skip || *skip > kMaxCursor) throw bad();
  page.skip = *skip;
  if (mark != std::string_view::npos) {
    const auto until = wholeNumber(rest.substr(mark + 1));
    if (!until || *until > (kMaxMs + 1) * 1000) throw bad();  // the newest time we take + 1 µs
    page.untilUs = static_cast<int64_t>(*until);
  }
  return page;
}

std::optional<std::string> nextCursor(const Page& page, uint64_t total, int64_t newestUs) {
  const uint64_t next = page.skip + page.limit;
  if (next >= total || next > kMaxCursor) return std::nullopt;
  std::optional<int64_t> until = page.untilUs;  // later pages keep the first page's bound
  if (!until && newestUs > 0) until = newestUs + 1;
  if (!until) return fmt::format("{}{}", kCursorPrefix, next);
  return fmt::format("{}{}{}{}", kCursorPrefix, next, kUntilMark, *until);
}

}  // namespace logship::console
