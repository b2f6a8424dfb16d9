#pragma once
// The aggregator's outputs: the default output (--output) and the routed ones (--route), and which
// of them a message's records go to. The collector (aggregator/collector.hpp) writes a batch to
// every output that got lines, then acks.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "aggregator/file_sink.hpp"
#include "aggregator/route.hpp"
#include "core/record.hpp"
#include "metrics/metric.hpp"

namespace logship {

// Work on an output file that must not split a line or lose a written record: switching it to
// another file (rotation, reopening after logrotate). Called at the collector's safe points for
// that output: before writing a batch (its lines formatted, `upcomingBytes` of them, none written
// yet) and when a receive came back empty, only while the output is at a line boundary
// (FileSink::atLineBoundary: no write of it is held after an error). `reopen`: SIGHUP asked to
// reopen the output path. OutputRotator (aggregator/rotation.hpp) implements it.
class OutputMaintenance {
 public:
  virtual ~OutputMaintenance() = default;
  virtual void betweenCommits(size_t upcomingBytes, bool reopen) noexcept = 0;
};

// Output 0 is the default output; outputs 1..N are the routes, in the order given. A message's
// records go to every route whose rule its metadata (level, service, host: a message's records
// share them) matches, and to the default output: always, or with `unroutedOnly` only when no
// route matched. So the rules are evaluated once per message, not per record.
//
// The router refers to the sinks (and maintenance), it does not own them; they must outlive it.
// Outputs are added before the collector that uses the router is made.
class Router {
 public:
  // Bit i set: output i.
  using OutputSet = uint64_t;
  static_assert(kMaxRoutes < 64);
  // The outputs of a set, in increasing order: for (size_t i : Router::outputsIn(set)).
  class OutputIndices;
  static OutputIndices outputsIn(OutputSet set);

  struct Output {
    FileSink* sink = nullptr;
    std::optional<RouteRule> rule;  // none: the default output
    OutputMaintenance* maintenance = nullptr;
    bool reopenDue = false;         // SIGHUP seen, not yet passed to the maintenance
    metrics::Counter linesWritten;  // lines written to this file (counted when a write succeeded)
  };

  explicit Router(FileSink& defaultOutput, bool unroutedOnly = false);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds a route to its own sink (std::logic_error beyond kMaxRoutes).
  void addRoute(RouteRule rule, FileSink& sink);
  // Output i's rotation and reopening.
  void setMaintenance(size_t i, OutputMaintenance* maintenance) { outputs_.at(i).maintenance = maintenance; }
  // The flag SIGHUP sets (cli::reopenRequested): taken once, and passed to every output.
  void setReopenRequest(std::atomic<bool>* requested) { reopenRequested_ = requested; }

  size_t size() const { return outputs_.size(); }
  size_t routes() const { return outputs_.size() - 1; }
  bool unroutedOnly() const { return unroutedOnly_; }
  Output& output(size_t i) { return outputs_[i]; }
  const Output& output(size_t i) const { return outputs_[i]; }
  FileSink& sink(size_t i) { return *outputs_[i].sink; }
  const FileSink& sink(size_t i) const { return *outputs_[i].sink; }
  // "default" for the default output, else the route's conditions in canonical form (metrics label).
  std::string routeLabel(size_t i) const;

  // The outputs that get the records of a message with this metadata (never empty).
  OutputSet select(const Record& metadata) const {
    OutputSet set = 0;
    for (size_t i = 1; i < outputs_.size(); ++i) {
      if (outputs_[i].rule->matches(metadata)) set |= OutputSet{1} << i;
    }
    if (set == 0 || !unroutedOnly_) set |= 1;
    return set;
  }

  // At the collector's safe points: takes a SIGHUP request for every output, then runs the
  // maintenance of each output that is at a line boundary (an output whose write failed and is
  // held keeps its request until it was written).
  void maintain() noexcept;

 private:
  std::deque<Output> outputs_;  // stable addresses (Output holds atomics)
  bool unroutedOnly_;
  std::atomic<bool>* reopenRequested_ = nullptr;
};

class Router::OutputIndices {
 public:
  class iterator {
   public:
    using value_type = size_t;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(OutputSet rest) : rest_(rest) {}
    size_t operator*() const { return static_cast<size_t>(std::countr_zero(rest_)); }
    iterator& operator++() {
      rest_ &= rest_ - 1;  // drops the lowest bit
      return *this;
    }
    iterator operator++(int) {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator&) const = default;

   private:
    OutputSet rest_ = 0;
  };
  explicit OutputIndices(OutputSet set) : set_(set) {}
  iterator begin() const { return iterator(set_); }
  iterator end() const { return iterator(); }

 private:
  OutputSet set_;
};

inline Router::OutputIndices Router::outputsIn(OutputSet set) { return OutputIndices(set); }

}  // namespace logship
