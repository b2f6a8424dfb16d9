#include "ctl/commands.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker/factory.hpp"
#include "core/escape.hpp"

namespace logship::ctl {

int setup(const BrokerOptions& broker, const std::string& queue) {
  auto admin = makeAdmin(broker);
  admin->declareTopology(queue);
  fmt::print("declared durable queue '{}' and dead-letter queue '{}' on {}\n", escaped(queue),
             escaped(deadLetterQueueName(queue)), broker.url.redacted());
  return 0;
}

int status(const BrokerOptions& broker, const std::string& queue, bool json) {
  auto admin = makeAdmin(broker);
  const QueueStats stats[] = {admin->queueStats(queue), admin->queueStats(deadLetterQueueName(queue))};
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : stats) {
      out.push_back({{"queue", s.name}, {"exists", s.exists}, {"ready", s.messagesReady}, {"consumers", s.consumers}});
    }
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("{:<40} {:>12} {:>10}\n", "QUEUE", "READY", "CONSUMERS");
    for (const auto& s : stats) {
      if (s.exists) {
        fmt::print("{:<40} {:>12} {:>10}\n", escaped(s.name), s.messagesReady, s.consumers);
      } else {
        fmt::print("{:<40} {:>12} {:>10}\n", escaped(s.name), "(missing)", "-");
      }
    }
  }
  return stats[0].exists ? 0 : 1;
}

}  // namespace logship::ctl
