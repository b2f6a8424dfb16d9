#include "aggregator/redelivery.hpp"

#include <algorithm>

#include <fmt/format.h>

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
  return fmt::format("delivered {} time{} without being written (the aggregator crashed or lost its connection each "
                     "time)",
                     failures, failures == 1 ? "" : "s");
}

}  // namespace logship
