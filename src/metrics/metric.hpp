#pragma once
// The three kinds of metric values (Prometheus' counter, gauge and histogram), lock-free: the
// hot paths update them with relaxed atomics, and a scrape (metrics/registry.hpp) reads them from
// another thread. They know nothing of names or exposition; a Registry refers to them.
//
// Cheap as they are, an atomic read-modify-write per record adds up at hundreds of thousands of
// records per second: code on a hot path counts into locals (or a HistogramBatch) and adds once
// per batch.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace logship::metrics {

// A count that only goes up. Any thread may add.
class Counter {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (a size, a state).
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class HistogramBatch;

// Observations counted in fixed buckets: bucket i holds the values v <= upperBounds[i] (and above
// the bound before it); a last bucket (+Inf) holds the rest. Bounds are fixed at construction.
class Histogram {
 public:
  // Strictly increasing, finite bounds (std::invalid_argument otherwise).
  explicit Histogram(std::vector<double> upperBounds);

  void observe(double value) noexcept;
  // Adds what `batch` observed (a batch of the same histogram) and empties it.
  void merge(HistogramBatch& batch) noexcept;

  const std::vector<double>& upperBounds() const { return bounds_; }
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Consistent per bucket: count is the sum of the buckets read, so the +Inf bucket equals it.
  Snapshot snapshot() const;

  // The bucket a value falls in (bounds_.size() for +Inf; NaN too).
  size_t bucketOf(double value) const noexcept;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0};
};

// Observations gathered by one thread without atomics, for one Histogram, added to it by
// Histogram::merge (once per batch).
class HistogramBatch {
 public:
  explicit HistogramBatch(const Histogram& histogram);

  void observe(double value) noexcept {
    ++counts_[histogram_->bucketOf(value)];
    sum_ += value;
    ++count_;
  }
  uint64_t count() const { return count_; }

 private:
  friend class Histogram;
  const Histogram* histogram_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Bucket bounds used by Logship's histograms.
namespace buckets {
// Records per broker message: 1 (the tutorial's one record per message) up to large batches.
std::vector<double> records();
// Latencies from a millisecond to an hour.
std::vector<double> seconds();
}  // namespace buckets

}  // namespace logship::metrics
