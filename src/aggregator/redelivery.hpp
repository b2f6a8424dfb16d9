#pragma once
// Poison messages (docs/RELIABILITY.md): a record whose deliveries keep ending without its being
// written (the aggregator holding it crashes or loses its connection every time) is counted, and
// dead-lettered once it failed --max-deliveries times, instead of being redelivered forever.
//
// The count travels with the record, so it survives the crash that it counts:
// - RabbitMQ: a classic queue only says `redelivered`. The collector records that failure in the
//   message itself: it publishes a copy with logship-deliveries = the failures so far to the
//   queue, waits for the broker's confirm, and only then acks the delivery (a crash in between
//   leaves both: a duplicate, never a loss). A quorum queue's x-delivery-count is used as well.
// - Redis: the script that puts a dead consumer's records back counts the failure in each record
//   (recoverScript()), so nothing is left for the collector to record.
//
// Every delivery that ends without an ack counts, so the records that were in flight with a
// poison record when it killed its aggregator count a failure too. So that they do not share its
// fate crash after crash, a record that failed before is written in a batch of its own (committed
// before the next delivery is looked at), which makes it the oldest unacknowledged delivery while
// it is written; Redis takes such a record alone (nothing else is in the processing list); and
// over RabbitMQ, which pushes up to --prefetch deliveries ahead regardless, the collector sends the
// redeliveries of a batch back with the oldest one last, behind the records that were only in
// flight with it.
#include <cstdint>
#include <span>
#include <string>

#include "broker/admin.hpp"
#include "broker/consumer.hpp"

namespace logship {

// How many earlier deliveries of one message ended without its being written.
struct DeliveryHistory {
  uint32_t recorded = 0;      // counted in the message itself (its logship-deliveries header)
  uint32_t unrecorded = 0;    // reported by the broker, not in the message yet (Delivery::unrecordedFailures)
  uint32_t failures() const;  // recorded + unrecorded, saturating at wire::kMaxDeliveries
};

enum class RedeliveryAction {
  Write,       // write it: no failure the message does not record yet, and under the limit
  Record,      // send it on to the queue with logship-deliveries = failures(), then ack it
  DeadLetter,  // it failed maxDeliveries times: dead-letter it with poisonReason()
};

// maxDeliveries 0: no limit, and no counting (every delivery is written, as before counting).
RedeliveryAction judgeRedelivery(const DeliveryHistory& history, uint32_t maxDeliveries);

// The history of a delivery: its logship-deliveries header and what the broker reports.
DeliveryHistory historyOf(const Delivery& d);

// Whether the collector writes `d` in a batch of its own: its message records an earlier failed
// delivery (and it does not need recording first), so it may be what killed an aggregator.
bool writtenAlone(const DeliveryHistory& history, uint32_t maxDeliveries);

// Where the part of `batch` that starts at `from` and is taken and committed together ends: just
// after batch[from] if that is written alone, else before the next delivery written alone (or at
// the end).
size_t segmentEnd(std::span<const Delivery> batch, size_t from, uint32_t maxDeliveries);

// "delivered 5 times without being written (the aggregator crashed or lost its connection each time)"
std::string poisonReason(uint32_t failures);

// The limit the collector judges with, and the line that says which and why (docs/RELIABILITY.md,
// "Poison messages"). A RabbitMQ quorum queue with a delivery limit L drops a message, or
// dead-letters it to its own dead-letter exchange, when it is returned for the (L+1)th time: its
// last delivery carries x-delivery-count L. Judging with min(--max-deliveries, L) (L when
// --max-deliveries is 0) dead-letters it to <queue>.dead at that delivery at the latest, with our
// reason, before the broker acts. L = 0 leaves no delivery to act on: a warning, and maxDeliveries.
struct JudgedLimit {
  uint32_t maxDeliveries = 0;
  std::string line;  // "" when there is nothing to say (Redis)
  bool warn = false;
};
JudgedLimit judgedLimit(uint32_t maxDeliveries, const DeliveryLimits& broker);

}  // namespace logship
