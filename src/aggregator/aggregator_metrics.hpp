#pragma once
// The aggregator's metrics (names and meanings in docs/OPERATIONS.md) and its output health check,
// read from the collector's and the sink's own statistics.
#include <string>

#include "aggregator/collector.hpp"
#include "aggregator/file_sink.hpp"
#include "metrics/registry.hpp"

namespace logship {

// Registers logship_aggregator_* (messages and records received, written, acked, ..., the batch
// size and latency histograms) and a health check that fails while the output cannot be written.
// `collector` and `sink` must outlive the group.
void registerAggregatorMetrics(metrics::Registry::Group& group, const Collector& collector, const FileSink& sink);

}  // namespace logship
