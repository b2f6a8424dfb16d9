#include "producer/producer_metrics.hpp"

#include <fmt/format.h>

namespace logship {

void registerProducerMetrics(metrics::Registry::Group& group, const Shipper& shipper) {
  const ShipperMetrics& m = shipper.metrics();
  const Spool& spool = shipper.spool();
  const std::string p = "logship_producer";
  group
      .counter(p + "_records_read_total",
               "Records read from the input (lines, or the message arguments), including refused and dropped ones",
               m.read)
      .counter(p + "_records_accepted_total",
               "Records taken into the spool (memory, or disk with --spool-dir): the producer answers for them",
               m.accepted)
      .counter(p + "_records_published_total",
               "Records sent to the broker (counted again when the disk spool sends them again after a reconnect)",
               m.published)
      .counter(p + "_bytes_published_total", "Message body bytes sent to the broker", m.bytesPublished)
      .counter(p + "_records_confirmed_total", "Records the broker confirmed: delivered", m.confirmed)
      .counter(p + "_records_failed_total",
               "Records the broker refused (nack, unroutable, error reply) after retries, or never confirmed", m.failed)
      .counter(p + "_records_refused_total", "Records refused as too large (--max-message-bytes): never sent",
               m.refused)
      .counter(p + "_records_dropped_total", "Records dropped because the spool was full (--spool-full drop)",
               m.dropped)
      .counter(p + "_records_recovered_total", "Records found in the spool at start, left by an earlier run",
               m.recovered)
      .histogram(p + "_batch_records", "Records per message published (--batch-records)", m.batchRecords)
      .gauge(p + "_in_flight_messages", "Messages sent to the broker and not yet confirmed", m.inFlightMessages)
      .gauge(p + "_in_flight_bytes", "Body bytes of the messages in flight", m.inFlightBytes)
      .gauge(p + "_spool_bytes",
             "Bytes held in the spool (memory, or the segment files of --spool-dir) until the broker confirms them",
             [&spool] { return static_cast<double>(spool.bytes()); })
      .gauge(p + "_spool_records", "Records held in the spool until the broker confirms them",
             [&spool] { return static_cast<double>(spool.heldRecords()); })
      .gauge(p + "_spool_limit_bytes", "The spool's cap (--spool-max-bytes; the memory buffer's without --spool-dir)",
             [&spool] { return static_cast<double>(spool.limits().maxBytes); });
  // With --spool-dir the producer is healthy while it can spool, whether the broker is reachable or
  // not; a full spool stops (or drops) the input. The memory buffer of a producer without a spool is
  // full whenever the input is faster than the broker: that is backpressure, not a fault.
  if (!shipper.spool().durable()) return;
  group.health([&spool]() -> std::optional<std::string> {
    if (!spool.full()) return std::nullopt;
    return fmt::format("the spool is full ({} bytes, cap {}): {}", spool.bytes(), spool.limits().maxBytes,
                       spool.limits().dropWhenFull ? "records are dropped (--spool-full drop)"
                                                   : "reading the input waits for the broker");
  });
}

void registerFollowMetrics(metrics::Registry::Group& group, const FollowMetrics& follow) {
  group
      .gauge("logship_producer_files_followed",
             "Files open under --follow: followed, or renamed away or deleted and being read to their end",
             follow.filesOpen)
      .counter("logship_producer_file_rotations_total",
               "Followed files seen renamed away, deleted or truncated (copytruncate) under --follow",
               follow.rotations);
}

void registerSyslogMetrics(metrics::Registry::Group& group, const SyslogMetrics& syslog) {
  const std::string p = "logship_producer_syslog";
  group
      .counter(p + "_messages_total", "Syslog messages (--syslog-udp datagrams, --syslog-tcp frames) made into records",
               syslog.messages)
      .counter(p + "_unparsed_total",
               "Of them, without a syslog header (kept raw with the field parse_error) or cut short", syslog.unparsed)
      .counter(p + "_refused_total", "Syslog messages over --max-message-bytes: refused, never sent", syslog.refused)
      .counter(p + "_udp_lost_total",
               "UDP datagrams the kernel dropped before they were read (its receive buffer was full)", syslog.lost)
      .counter(p + "_connections_total", "TCP connections accepted", syslog.connections)
      .gauge(p + "_connections", "TCP connections open now", syslog.open)
      .counter(p + "_connections_timed_out_total", "TCP connections closed after --syslog-idle-timeout without data",
               syslog.timedOut)
      .counter(p + "_connections_evicted_total",
               "TCP connections closed at --syslog-max-connections: the longest idle, to make room for a new one",
               syslog.evicted);
}

}  // namespace logship
