#include "console/broker_views.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "broker/factory.hpp"
#include "core/compress.hpp"
#include "core/message.hpp"
#include "ctl/commands.hpp"

namespace logship::console {
namespace {

template <typename T>
Json optional(const std::optional<T>& v) {
  if (!v) return Json();
  if constexpr (std::is_floating_point_v<T>) return Json(std::round(*v * 100) / 100);
  return Json(*v);
}

Json queueJson(const QueueStats& s) {
  return {{"name", s.name},
          {"exists", s.exists},
          {"type", s.type ? Json(*s.type) : Json(s.source == StatsSource::Redis ? "redis list" : "")},
          {"ready", s.messagesReady},
          {"unacked", optional(s.messagesUnacked)},
          {"consumers", s.consumers},
          {"publish_rate", optional(s.publishRate)},
          {"deliver_rate", optional(s.deliverRate)}};
}

std::string_view header(const Message& m, std::string_view key) {
  for (const Header& h : m.headers) {
    if (h.key == key) return h.value;
  }
  return {};
}

}  // namespace

Json queuesJson(const BrokerOptions& broker, const std::string& queue) {
  auto admin = makeAdmin(broker);
  const ctl::QueueReport r = ctl::queueReport(*admin, queue, broker.shards);
  Json main = queueJson(r.queue);
  if (!r.shards.empty()) {
    main["shards"] = Json::array();
    for (const QueueStats& s : r.shards) main["shards"].push_back(queueJson(s));
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {{"time_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
          {"queues", Json::array({std::move(main)})},
          {"dead", {{"name", r.dead.name}, {"exists", r.dead.exists}, {"ready", r.dead.messagesReady}}}};
}

Json deadLettersJson(const BrokerOptions& broker, const std::string& queue, uint64_t limit) {
  auto admin = makeAdmin(broker);
  Json messages = Json::array();
  uint64_t seen = 0;
  std::vector<Record> records;
  std::string error, buffer;
  admin->peekDeadLetters(queue, [&](const DeadLetter& d) {
    const Message& m = d.message;
    records.clear();
    if (!decodeRecords(m.body, m.headers, m.timestampUs, records, error)) {
      std::string_view text;
      Record r;
      r.message = inflatedBody(m.body, m.headers, buffer, text, error) ? std::string(text) : m.body;
      records.push_back(std::move(r));
    }
    for (const Record& r : records) {
      messages.push_back({{"index", d.position},
                          {"id", header(m, wire::kId)},
                          {"reason", header(m, wire::kDeadReason)},
                          {"record", recordJson(r)}});
    }
    return ++seen < limit;
  });
  return {{"messages", std::move(messages)}};
}

uint64_t requeueDeadLetters(const BrokerOptions& broker, const std::string& queue, uint64_t count) {
  auto admin = makeAdmin(broker);
  return admin->requeueDeadLetters(
      queue, [](const DeadLetter&) { return true; }, count);
}

uint64_t deleteDeadLetters(const BrokerOptions& broker, const std::string& queue, uint64_t count) {
  auto admin = makeAdmin(broker);
  const uint64_t there = admin->queueStats(deadLetterQueueName(queue)).messagesReady;
  if (count < there) {
    throw ApiError(409, fmt::format("there are {} dead letters: delete removes all of them (count {} or more), or "
                                    "requeue some",
                                    there, there));
  }
  return admin->purgeDeadLetters(queue);
}

}  // namespace logship::console
