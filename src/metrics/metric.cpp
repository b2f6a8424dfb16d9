#include "metrics/metric.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace logship::metrics {

Histogram::Histogram(std::vector<double> upperBounds)
    : bounds_(std::move(upperBounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && !(bounds_[i - 1] < bounds_[i]))) {
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
    }
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

size_t Histogram::bucketOf(double value) const noexcept {
  if (std::isnan(value)) return bounds_.size();
  // The first bound >= value: bucket "le" bound.
  return static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
}

void Histogram::observe(double value) noexcept {
  counts_[bucketOf(value)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::merge(HistogramBatch& batch) noexcept {
  if (batch.count_ == 0) return;
  for (size_t i = 0; i < batch.counts_.size(); ++i) {
    if (batch.counts_[i] != 0) {
      counts_[i].fetch_add(batch.counts_[i], std::memory_order_relaxed);
      batch.counts_[i] = 0;
    }
  }
  sum_.fetch_add(batch.sum_, std::memory_order_relaxed);
  batch.sum_ = 0;
  batch.count_ = 0;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

HistogramBatch::HistogramBatch(const Histogram& histogram)
    : histogram_(&histogram), counts_(histogram.upperBounds().size() + 1, 0) {}

namespace buckets {

std::vector<double> records() { return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}; }

std::vector<double> seconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
}

}  // namespace buckets
}  // namespace logship::metrics
