#include "aggregator/aggregator_metrics.hpp"

#include <fmt/format.h>

#include "broker/connection_status.hpp"

namespace logship {

void registerAggregatorMetrics(metrics::Registry::Group& group, const Collector& collector, const Router& router) {
  const CollectorMetrics& m = collector.metrics();
  const std::string p = "logship_aggregator";
  group.counter(p + "_messages_received_total", "Broker messages (deliveries) received", m.messagesReceived)
      .counter(p + "_records_received_total",
               "Records in the messages received (a message that cannot be decoded counts as one)", m.recordsReceived)
      .counter(p + "_bytes_received_total", "Message body bytes received", m.bytesReceived)
      .counter(p + "_messages_redelivered_total",
               "Messages the broker delivered again (flagged redelivered: an earlier delivery was not acknowledged)",
               m.messagesRedelivered)
      .counter(p + "_records_written_total",
               "Records written, one line each in every output file it goes to (counted once however many)",
               m.recordsWritten)
      .counter(p + "_bytes_written_total", "Bytes written to the output files (all of them)",
               [&router] {
                 uint64_t bytes = 0;
                 for (size_t i = 0; i < router.size(); ++i) bytes += router.sink(i).bytesWritten().value();
                 return bytes;
               })
      .counter(p + "_messages_acked_total",
               "Messages acknowledged to the broker (written, skipped as duplicates, "
               "dead-lettered or put back with their failed delivery counted)",
               m.messagesAcked)
      .counter(p + "_records_acked_total", "Records in the messages acknowledged", m.recordsAcked)
      .counter(p + "_records_deduplicated_total",
               "Records not written again because their id was already written to every output file they go to "
               "(--dedup-window)",
               m.duplicates);
  for (size_t i = 0; i < router.size(); ++i) {
    const metrics::Labels labels{{"output", router.sink(i).path()}, {"route", router.routeLabel(i)}};
    group
        .counter(p + "_output_records_written_total",
                 "Lines written to each output file: the default output (route=\"default\") and each --route's file "
                 "(route = its conditions)",
                 router.output(i).linesWritten, labels)
        .counter(p + "_output_bytes_written_total",
                 "Bytes written to each output file (labels as for "
                 "output_records_written_total)",
                 router.sink(i).bytesWritten(), labels);
  }
  const char* deadHelp =
      "Messages published to the dead-letter queue, by reason: too_large (over --max-message-bytes), malformed "
      "(cannot be decoded), poison (--max-deliveries failed deliveries)";
  group.counter(p + "_messages_dead_lettered_total", deadHelp, m.deadTooLarge, {{"reason", "too_large"}})
      .counter(p + "_messages_dead_lettered_total", deadHelp, m.deadMalformed, {{"reason", "malformed"}})
      .counter(p + "_messages_dead_lettered_total", deadHelp, m.deadPoison, {{"reason", "poison"}})
      .counter(p + "_messages_requeued_total",
               "Redelivered messages published back to the queue with their failed delivery counted (poison "
               "message detection), then acknowledged",
               m.recounted)
      .counter(p + "_errors_total", kErrorsTotalHelp, m.writeErrors, {{"kind", "write"}})
      .gauge(p + "_output_writable",
             "1 while the output can be written, 0 while the aggregator holds records after a write error",
             [&collector] { return collector.writeProblem() ? 0.0 : 1.0; })
      .histogram(p + "_batch_records", "Records per message received (1: one record per message)", m.batchRecords)
      .histogram(p + "_latency_seconds",
                 "End-to-end latency: from a record's timestamp (the producer's clock) to its line being written",
                 m.latency)
      .health([&collector]() -> std::optional<std::string> {
        auto problem = collector.writeProblem();
        if (!problem) return std::nullopt;
        return fmt::format("output not writable: {}", *problem);
      });
}

}  // namespace logship
