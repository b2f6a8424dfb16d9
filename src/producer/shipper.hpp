#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/publisher.hpp"
#include "core/message.hpp"
#include "core/record.hpp"

namespace logship {

struct ShipperOptions {
  size_t confirmWindow = 1024;                     // messages in flight before we wait for confirms
  size_t maxMessageBytes = 1024 * 1024;            // larger messages are refused (--max-message-bytes)
  std::chrono::milliseconds confirmTimeout{30'000};  // how long finish() waits for the last confirms
  // Record ids are "<idPrefix>-<n>", n = firstId, firstId + 1, ...; an empty prefix is replaced by
  // 16 random hex digits (a new producer instance).
  std::string idPrefix;
  uint64_t firstId = 1;
};

struct ShipReport {
  uint64_t sent = 0;       // published to the broker
  uint64_t confirmed = 0;  // the broker confirmed it has them: these are safe
  uint64_t failed = 0;     // the broker refused them (nack, unroutable) or never confirmed them
  uint64_t refused = 0;    // never sent: over the size limit
  std::string firstFailure;
};

// The producer's shipping loop: turns messages into records (metadata from a template), publishes
// them through any Publisher with a window of unconfirmed messages, and keeps the score. A record
// counts as delivered only when the broker confirmed it (ShipReport::confirmed).
class Shipper {
 public:
  Shipper(Publisher& publisher, Record recordTemplate, ShipperOptions options);

  // Ships one record with `message` as its text and the current time. Returns false (and counts it
  // as refused) when it is over the size limit. Blocks while the confirm window is full.
  bool ship(std::string_view message);
  // Counts a message the caller could not even read whole (over the size limit).
  void refuse() { ++report_.refused; }
  // Services the connection (heartbeats, confirms) while the input is idle.
  void idle();
  // Waits for every outstanding confirm, at most options.confirmTimeout.
  void finish();

  const ShipReport& report() const { return report_; }
  bool allConfirmed() const { return report_.refused == 0 && report_.failed == 0 && report_.confirmed == report_.sent; }

 private:
  void account(std::vector<ConfirmRange>& confirms);

  Publisher& publisher_;
  Record record_;
  Message message_;
  ShipperOptions options_;
  ShipReport report_;
  uint64_t nextId_ = 1;
  std::vector<ConfirmRange> confirms_;
};

}  // namespace logship
