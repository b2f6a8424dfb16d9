#pragma once
// The producer's metrics (names and meanings in docs/OPERATIONS.md) and its spool health check,
// read from the shipper's and the spool's own statistics.
#include "metrics/registry.hpp"
#include "producer/input/file_input.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/shipper.hpp"

namespace logship {

// Registers logship_producer_* (records read, accepted, published, confirmed, ..., in flight, the
// spool's size) and, with a disk spool, a health check that fails while the spool is full.
// `shipper` must outlive the group.
void registerProducerMetrics(metrics::Registry::Group& group, const Shipper& shipper);

// Registers the followed files' metrics (--follow; zero without it). `follow` must outlive the group.
void registerFollowMetrics(metrics::Registry::Group& group, const FollowMetrics& follow);

// Registers the syslog inputs' metrics (--syslog-udp, --syslog-tcp; zero without them). `syslog`
// must outlive the group.
void registerSyslogMetrics(metrics::Registry::Group& group, const SyslogMetrics& syslog);

}  // namespace logship
