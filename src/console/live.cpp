#include "console/live.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/tail.hpp"
#include "console/records.hpp"
#include "core/escape.hpp"
#include "core/message.hpp"
#include "core/output_format.hpp"
#include "core/timestamp.hpp"

namespace logship::console {
namespace {

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

std::string sseEvent(std::string_view name, std::string_view data) {
  return fmt::format("event: {}\ndata: {}\n\n", name, data);
}

void LiveClient::offer(const Record& record, std::string& lineBuffer) {
  if (!filter_.matches(record)) return;
  if (pattern_) {  // q: on the record's line in the text format, as a search of a text output
    lineBuffer.clear();
    appendFormatted(lineBuffer, OutputFormat::Text, record);
    if (!lineBuffer.empty()) lineBuffer.pop_back();  // the '\n'
    if (!pattern_->matches(lineBuffer)) return;
  }
  push(sseEvent("record", dump(recordJson(record))));
}

void LiveClient::missed(uint64_t count) {
  const std::lock_guard lock(mutex_);
  skipped_ += count;
  ready_.notify_one();
}

void LiveClient::error(const std::string& reason) { push(sseEvent("error", dump(Json{{"error", reason}}))); }

void LiveClient::subscribed(const std::string& what) {
  push(sseEvent("subscribed", dump(Json{{"subscription", what}})));
}

void LiveClient::push(std::string event) {
  const std::lock_guard lock(mutex_);
  if (events_.size() >= maxQueued_) {
    events_.pop_front();
    ++skipped_;
  }
  events_.push_back(std::move(event));
  ready_.notify_one();
}

bool LiveClient::take(std::string& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return !events_.empty() || skipped_ > 0; });
  if (events_.empty() && skipped_ == 0) return false;
  if (skipped_ > 0) out += sseEvent("skipped", fmt::format("{{\"count\":{}}}", skipped_));
  skipped_ = 0;
  for (const std::string& e : events_) out += e;
  events_.clear();
  return true;
}

LiveHub::LiveHub(BrokerOptions broker, std::string queue) : broker_(std::move(broker)), queue_(std::move(queue)) {
  thread_ = std::thread([this] { run(); });
}

LiveHub::~LiveHub() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::shared_ptr<LiveClient> LiveHub::join(ctl::TailFilter filter, std::unique_ptr<search::Pattern> pattern) {
  auto client = std::make_shared<LiveClient>(std::move(filter), std::move(pattern), kMaxQueuedEvents);
  {
    const std::lock_guard lock(mutex_);
    if (clients_.size() >= kMaxClients) return nullptr;
    clients_.push_back(client);
    if (!subscription_.empty()) client->subscribed(subscription_);
  }
  changed_.notify_all();
  return client;
}

void LiveHub::leave(const std::shared_ptr<LiveClient>& client) {
  const std::lock_guard lock(mutex_);
  std::erase(clients_, client);
}

std::vector<std::shared_ptr<LiveClient>> LiveHub::clients() {
  const std::lock_guard lock(mutex_);
  return clients_;
}

// Deciding that nobody watches and forgetting the subscription is one step under the mutex: a client
// that joins after it is not told `subscribed` by join() for a subscription that is ending (what is
// published before the next one is made would be lost to it); it is told by the next watch().
std::vector<std::shared_ptr<LiveClient>> LiveHub::watchersOrUnsubscribe() {
  const std::lock_guard lock(mutex_);
  if (clients_.empty()) subscription_.clear();
  return clients_;
}

void LiveHub::run() {
  while (!stop_) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || !clients_.empty(); });
    }
    if (stop_) break;
    try {
      watch();
    } catch (const std::exception& e) {  // the broker is unreachable or refused: said to every client
      for (const auto& c : clients()) c->error(fmt::format("the live view lost the broker: {}", e.what()));
      spdlog::warn("live view: {}; subscribing again in 1 s", e.what());
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_.load(); });
    }
  }
}

void LiveHub::watch() {
  TailOptions options;
  options.queue = queue_;  // every level and service: each client filters for itself
  BrokerOptions broker = broker_;
  broker.stopRequested = &stop_;
  std::unique_ptr<TailSubscription> subscription;
  try {
    subscription = makeTail(broker, options);
  } catch (const InterruptedError&) {
    return;
  }
  spdlog::info("live view: {}", subscription->describe());
  {
    const std::lock_guard lock(mutex_);
    subscription_ = subscription->describe();
    for (const auto& c : clients_) c->subscribed(subscription_);
  }
  struct Unsubscribed {  // however watching ends
    LiveHub& hub;
    ~Unsubscribed() {
      const std::lock_guard lock(hub.mutex_);
      hub.subscription_.clear();
    }
  } unsubscribed{*this};
  ctl::RecordGaps gaps;
  std::vector<Delivery> batch;
  std::vector<Record> records;
  std::string error, line;
  while (!stop_) {
    batch.clear();
    subscription->receive(batch, std::chrono::milliseconds(200));
    // Taken after receive(): a client that joined (and was told `subscribed`) during it gets this batch.
    const auto watching = watchersOrUnsubscribe();
    if (watching.empty()) break;
    for (const Delivery& d : batch) {
      records.clear();
      if (!d.transportError.empty() ||
          !decodeRecords(d.body, d.headers, d.brokerTimestampUs != 0 ? d.brokerTimestampUs : nowMicros(), records,
                         error)) {
        continue;  // the aggregators dead-letter it: the dead-letter view shows it
      }
      for (const Record& r : records) {
        const uint64_t lost = gaps.note(r.id);
        for (const auto& c : watching) {
          if (lost > 0) c->missed(lost);
          c->offer(r, line);
        }
      }
    }
  }
  subscription->finish(std::chrono::seconds(5));
}

}  // namespace logship::console
