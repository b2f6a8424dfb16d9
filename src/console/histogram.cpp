#include "console/histogram.hpp"

#include <algorithm>

namespace logship::console {
namespace {

constexpr int64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;

// Floor division (times before 1970 are negative).
int64_t floorTo(int64_t t, int64_t unit) {
  const int64_t q = t / unit;
  return (t % unit != 0 && t < 0 ? q - 1 : q) * unit;
}

// The units counted in: seconds, then minutes, hours, days (every bucket width above a unit is a
// multiple of it).
constexpr int64_t kUnits[] = {kSecond, kMinute, kHour, kDay};

}  // namespace

const std::vector<int64_t>& bucketWidths() {
  static const std::vector<int64_t> widths = {kSecond,      2 * kSecond,  5 * kSecond, 10 * kSecond, 15 * kSecond,
                                              30 * kSecond, kMinute,      2 * kMinute, 5 * kMinute,  10 * kMinute,
                                              15 * kMinute, 30 * kMinute, kHour,       2 * kHour,    3 * kHour,
                                              6 * kHour,    12 * kHour,   kDay,        2 * kDay,     7 * kDay,
                                              14 * kDay,    30 * kDay,    90 * kDay,   365 * kDay,   3650 * kDay};
  return widths;
}

void Histogram::add(int64_t timeMs) {
  ++counts_[floorTo(timeMs, unitMs_)];
  if (counts_.size() > maxUnits_) coarsen();
}

void Histogram::coarsen() {
  while (counts_.size() > maxUnits_) {
    const auto next = std::upper_bound(std::begin(kUnits), std::end(kUnits), unitMs_);
    unitMs_ = next != std::end(kUnits) ? *next : unitMs_ * 10;
    std::map<int64_t, uint64_t> merged;
    for (const auto& [t, n] : counts_) merged[floorTo(t, unitMs_)] += n;
    counts_ = std::move(merged);
  }
}

HistogramResult Histogram::result(std::optional<int64_t> fromMs, std::optional<int64_t> toMs, size_t maxBuckets) const {
  HistogramResult r;
  if (counts_.empty() && (!fromMs || !toMs)) return r;
  const int64_t from = fromMs.value_or(counts_.empty() ? 0 : counts_.begin()->first);
  const int64_t to = std::max(toMs.value_or(counts_.empty() ? from : counts_.rbegin()->first + unitMs_), from + 1);
  const auto& widths = bucketWidths();
  r.bucketMs = widths.back();
  for (int64_t w : widths) {
    if (w < unitMs_ || w % unitMs_ != 0) continue;
    if ((to - from + w - 1) / w <= static_cast<int64_t>(maxBuckets)) {
      r.bucketMs = w;
      break;
    }
  }
  r.fromMs = floorTo(from, r.bucketMs);
  r.toMs = floorTo(to - 1, r.bucketMs) + r.bucketMs;
  r.counts.assign(static_cast<size_t>((r.toMs - r.fromMs) / r.bucketMs), 0);
  for (auto it = counts_.lower_bound(floorTo(r.fromMs, unitMs_)); it != counts_.end() && it->first < r.toMs; ++it) {
    if (it->first < r.fromMs) continue;
    r.counts[static_cast<size_t>((it->first - r.fromMs) / r.bucketMs)] += it->second;
  }
  return r;
}

}  // namespace logship::console
