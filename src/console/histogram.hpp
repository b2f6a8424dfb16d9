#pragma once
// Counts of matching records over time, gathered in the same pass as the search (the time range of
// the matches is not known before it ends): counted per second, or per coarser unit once too many
// seconds are held, then put into buckets of a round width. Pure logic, unit-tested.
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace logship::console {

struct HistogramResult {
  int64_t fromMs = 0;  // start of the first bucket
  int64_t toMs = 0;    // end of the last bucket
  int64_t bucketMs = 1000;
  std::vector<uint64_t> counts;
};

class Histogram {
 public:
  // At most this many distinct units (seconds at first) are held; past it the unit grows.
  explicit Histogram(size_t maxUnits = 200'000) : maxUnits_(maxUnits) {}

  void add(int64_t timeMs);

  // Buckets of the roundest width (1 s, 2 s, 5 s, ..., 1 h, ..., 1 d, 7 d, ...) that covers [from, to)
  // with at most `maxBuckets`, each a multiple of the unit counted in. `from`/`to`: the query's
  // bounds, else the first and last time counted. Empty counts when nothing was counted and no bound
  // was given.
  HistogramResult result(std::optional<int64_t> fromMs, std::optional<int64_t> toMs, size_t maxBuckets = 120) const;

  int64_t unitMs() const { return unitMs_; }

 private:
  void coarsen();

  size_t maxUnits_;
  int64_t unitMs_ = 1000;
  std::map<int64_t, uint64_t> counts_;  // unit start (ms) -> records
};

// The round widths buckets take, in milliseconds, ascending; each is a multiple of every unit
// Histogram counts in that is smaller than it.
const std::vector<int64_t>& bucketWidths();

}  // namespace logship::console
