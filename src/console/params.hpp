#pragma once
// The query parameters of the console's API (docs/CONSOLE.md), read into the search engine's Query:
// pure logic, unit-tested without HTTP. Bad values throw ApiError (400) naming the parameter.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "search/query.hpp"

namespace logship::console {

// An answer other than 200: `status` and a one-line reason (the body {"error": reason}).
class ApiError : public Error {
 public:
  ApiError(int status, const std::string& reason) : Error(reason), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// The query string as cpp-httplib gives it (httplib::Params), repeated keys in order.
using Params = std::multimap<std::string, std::string>;

// The filters shared by search, export and live: q (a POSIX extended regular expression, as
// `logctl search --grep`), level (this level or above), service and host (repeatable: any of them;
// host may be a glob), from and to (RFC 3339, a duration before now like 15m, or epoch milliseconds).
search::Query parseFilters(const Params& params, int64_t nowUs);

// A from/to value: RFC 3339, a duration before `nowUs` (90s, 15m, 2h, 7d), or a whole number of
// milliseconds since the epoch. Microseconds since the epoch; throws ApiError naming `name`.
int64_t parseTimeParam(std::string_view name, std::string_view text, int64_t nowUs);

// search: limit (1..kMaxLimit, default kDefaultLimit) and cursor (where the previous page ended).
inline constexpr uint64_t kDefaultLimit = 200;
inline constexpr uint64_t kMaxLimit = 1000;
// How deep paging goes: records beyond this many from the newest are not kept for a page.
inline constexpr uint64_t kMaxCursor = 100'000;
struct Page {
  uint64_t skip = 0;  // records skipped from the newest (decoded cursor)
  uint64_t limit = kDefaultLimit;
  // Records at or after this time are left out (decoded cursor): the first page's newest record's
  // time + 1 µs, so that records written while someone pages do not push the next pages' records
  // down (which would show some of them twice). nullopt on a first page.
  std::optional<int64_t> untilUs;
};
Page parsePage(const Params& params);

// The opaque cursor of the page after `page` when `total` records matched and the newest of them has
// the time `newestUs` (0: none has one); nullopt: no more. It carries the first page's time bound.
std::optional<std::string> nextCursor(const Page& page, uint64_t total, int64_t newestUs);

// A whole number parameter in [min, max]; `fallback` when absent. Throws ApiError naming it.
uint64_t numberParam(const Params& params, std::string_view name, uint64_t fallback, uint64_t min, uint64_t max);

// The last value of `name`, or nullopt.
std::optional<std::string> param(const Params& params, std::string_view name);

}  // namespace logship::console
