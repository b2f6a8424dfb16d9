#pragma once
// The aggregator's metrics (names and meanings in docs/OPERATIONS.md) and its output health check,
// read from the collector's and the sink's own statistics.
#include <string>

#include "aggregator/collector.hpp"
#include "aggregator/router.hpp"
#include "metrics/registry.hpp"

namespace logship {

// Registers logship_aggregator_* (messages and records received, written, acked, ..., the batch
// size and latency histograms; lines and bytes per output file, labelled with the file and its
// route) and a health check that fails while an output cannot be written. `collector` and
// `router` (with its sinks) must outlive the group.
void registerAggregatorMetrics(metrics::Registry::Group& group, const Collector& collector, const Router& router);

}  // namespace logship
