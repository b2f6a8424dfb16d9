#include "aggregator/redelivery.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/escape.hpp"
#include "core/message.hpp"

namespace logship {

uint32_t DeliveryHistory::failures() const {
  const uint64_t sum = uint64_t{recorded} + unrecorded;
  return static_cast<uint32_t>(std::min<uint64_t>(sum, wire::kMaxDeliveries));
}

RedeliveryAction judgeRedelivery(const DeliveryHistory& history, uint32_t maxDeliveries) {
  if (maxDeliveries == 0) return RedeliveryAction::Write;
  if (history.failures() >= maxDeliveries) return RedeliveryAction::DeadLetter;
  if (history.unrecorded > 0) return RedeliveryAction::Record;
  return RedeliveryAction::Write;
}

DeliveryHistory historyOf(const Delivery& d) { return {recordedDeliveries(d.headers), d.unrecordedFailures}; }

bool writtenAlone(const DeliveryHistory& history, uint32_t maxDeliveries) {
  return maxDeliveries > 0 && history.recorded > 0 && history.unrecorded == 0;
}

size_t segmentEnd(std::span<const Delivery> batch, size_t from, uint32_t maxDeliveries) {
  if (from >= batch.size()) return batch.size();
  if (writtenAlone(historyOf(batch[from]), maxDeliveries)) return from + 1;
  size_t end = from + 1;
  while (end < batch.size() && !writtenAlone(historyOf(batch[end]), maxDeliveries)) ++end;
  return end;
}

std::string poisonReason(uint32_t failures) {
  return fmt::format(
      "delivered {} time{} without being written (the aggregator crashed or lost its connection each "
      "time)",
      failures, failures == 1 ? "" : "s");
}

namespace {

std::string ownLimit(uint32_t maxDeliveries) {
  if (maxDeliveries == 0) return "counting no failed deliveries (--max-deliveries 0: no limit)";
  return fmt::format("dead-lettering a record after {} failed deliveries (--max-deliveries)", maxDeliveries);
}

// The queue whose limit is the lowest, or null if none has one.
const QueueStats* lowestLimit(const std::vector<QueueStats>& queues) {
  const QueueStats* lowest = nullptr;
  for (const QueueStats& q : queues) {
    if (q.deliveryLimit && (lowest == nullptr || *q.deliveryLimit < *lowest->deliveryLimit)) lowest = &q;
  }
  return lowest;
}

std::string noLimit(const std::vector<QueueStats>& queues) {
  if (queues.size() == 1) {
    return fmt::format("queue '{}' ({}) has no delivery limit of its own", escaped(queues[0].name),
                       queues[0].type.value_or("type unknown"));
  }
  return fmt::format("none of the {} queues consumed has a delivery limit of its own", queues.size());
}

// Said when a quorum queue's policies were not sampled yet: a delivery-limit policy may be missed.
std::string unsampled(const std::vector<QueueStats>& queues) {
  for (const QueueStats& q : queues) {
    if (!q.policiesKnown) {
      return fmt::format(
          "; the management API had not sampled the policies of queue '{}' yet, so a delivery-limit "
          "policy is not taken into account (restart the aggregator to read it)",
          escaped(q.name));
    }
  }
  return "";
}

}  // namespace

JudgedLimit judgedLimit(uint32_t maxDeliveries, const DeliveryLimits& broker) {
  if (!broker.asked) return {maxDeliveries, "", false};
  if (!broker.unavailable.empty()) {
    return {maxDeliveries,
            fmt::format("{}; the queue's own delivery limit is not known ({}). If it is a quorum queue with a delivery "
                        "limit (x-delivery-limit, or a delivery-limit policy) below that, RabbitMQ drops a record once "
                        "it failed that often, or dead-letters it to the queue's own dead-letter exchange: keep "
                        "--max-deliveries at or below the limit and give the queue a dead-letter exchange "
                        "(docs/RELIABILITY.md)",
                        ownLimit(maxDeliveries), broker.unavailable),
            false};
  }
  const std::string more = unsampled(broker.queues);
  const QueueStats* q = lowestLimit(broker.queues);
  if (q == nullptr)
    return {maxDeliveries, fmt::format("{}; {}{}", ownLimit(maxDeliveries), noLimit(broker.queues), more), false};
  const uint32_t limit = *q->deliveryLimit;
  const std::string name = escaped(q->name);
  if (limit == 0) {
    return {maxDeliveries,
            fmt::format("queue '{}' has a delivery limit of 0 ({}): RabbitMQ drops every record whose delivery fails, "
                        "or dead-letters it to the queue's own dead-letter exchange, before an aggregator sees it "
                        "again; raise it to at least 1 (docs/RELIABILITY.md). {}{}",
                        name, q->deliveryLimitSource, ownLimit(maxDeliveries), more),
            true};
  }
  if (maxDeliveries != 0 && maxDeliveries <= limit) {
    return {maxDeliveries,
            fmt::format("{}; the delivery limit of queue '{}', {} ({}), is not lower{}", ownLimit(maxDeliveries), name,
                        limit, q->deliveryLimitSource, more),
            false};
  }
  return {limit,
          fmt::format("dead-lettering a record after {} failed deliveries ({}): queue '{}' is a quorum queue with a "
                      "delivery limit of {} ({}), and RabbitMQ would drop the record, or dead-letter it itself, at "
                      "its next failed delivery{}",
                      limit,
                      maxDeliveries == 0 ? "--max-deliveries 0 would be no limit"
                                         : fmt::format("not --max-deliveries {}", maxDeliveries),
                      name, limit, q->deliveryLimitSource, more),
          false};
}

}  // namespace logship
