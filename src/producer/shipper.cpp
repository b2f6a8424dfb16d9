#include "producer/shipper.hpp"

#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/timestamp.hpp"

namespace logship {

Shipper::Shipper(Publisher& publisher, Record recordTemplate, ShipperOptions options)
    : publisher_(publisher), record_(std::move(recordTemplate)), options_(std::move(options)), nextId_(options_.firstId) {
  if (options_.idPrefix.empty()) {
    std::random_device rd;
    options_.idPrefix = fmt::format("{:08x}{:08x}", rd(), rd());
  }
}

bool Shipper::ship(std::string_view message) {
  if (message.size() > options_.maxMessageBytes) {
    ++report_.refused;
    return false;
  }
  record_.timestampUs = nowMicros();
  record_.message.assign(message);
  record_.id = fmt::format("{}-{}", options_.idPrefix, nextId_++);
  encodeRecord(record_, message_);
  publisher_.publish(message_);
  ++report_.sent;
  if (publisher_.unconfirmed() >= options_.confirmWindow) {
    publisher_.awaitConfirms(options_.confirmWindow / 2, Clock::now() + options_.confirmTimeout, confirms_);
    if (publisher_.unconfirmed() > options_.confirmWindow / 2) {
      throw TimeoutError("the broker stopped confirming messages (is it blocked by a memory or disk alarm?)");
    }
  } else if ((report_.sent & 63) == 0) {
    publisher_.awaitConfirms(SIZE_MAX, Clock::now(), confirms_);  // take confirms already here
  }
  account(confirms_);
  return true;
}

void Shipper::idle() {
  publisher_.awaitConfirms(SIZE_MAX, Clock::now(), confirms_);
  account(confirms_);
}

void Shipper::finish() {
  publisher_.awaitConfirms(0, Clock::now() + options_.confirmTimeout, confirms_);
  account(confirms_);
  const size_t missing = publisher_.unconfirmed();
  if (missing > 0) {
    report_.failed += missing;
    if (report_.firstFailure.empty()) report_.firstFailure = "no confirm from the broker in time";
  }
}

void Shipper::account(std::vector<ConfirmRange>& confirms) {
  for (const auto& c : confirms) {
    const uint64_t n = c.last - c.first + 1;
    if (c.ok) {
      report_.confirmed += n;
    } else {
      report_.failed += n;
      if (report_.firstFailure.empty()) report_.firstFailure = c.reason;
      spdlog::error("{} message(s) not accepted by the broker: {}", n, c.reason);
    }
  }
  confirms.clear();
}

}  // namespace logship
