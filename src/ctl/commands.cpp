#include "ctl/commands.hpp"

#include <fmt/format.h>

#include "broker/amqp/topology.hpp"
#include "broker/factory.hpp"
#include "core/escape.hpp"

namespace logship::ctl {

int setup(const BrokerOptions& broker, const std::string& queue) {
  auto admin = makeAdmin(broker);
  const std::string found = admin->declareTopology(queue);
  if (broker.url.isRedis()) {
    fmt::print("'{}' and dead-letter list '{}' on {} are ready (Redis lists need no declaration)\n", escaped(queue),
               escaped(deadLetterQueueName(queue)), broker.url.redacted());
  } else if (broker.shards > 0) {
    fmt::print(
        "declared {} durable queues '{}' ... '{}' behind consistent-hash exchange '{}' (hash-property {}, "
        "weight {} each; bound to topic exchange '{}' with '#') and dead-letter queue '{}' on {}\n",
        broker.shards, escaped(amqp::shardQueueName(queue, 0)), escaped(amqp::shardQueueName(queue, broker.shards - 1)),
        escaped(amqp::shardExchangeName(queue)), amqp::kShardHashProperty, amqp::kShardBindingWeight,
        escaped(amqp::exchangeName(queue)), escaped(deadLetterQueueName(queue)), broker.url.redacted());
  } else {
    fmt::print("{} (on {})\n", found, broker.url.redacted());
  }
  return 0;
}

int recover(const BrokerOptions& broker, const std::string& queue) {
  auto admin = makeAdmin(broker);
  const auto result = admin->recoverAbandoned(queue);
  if (!result) {
    fmt::print("nothing to do: RabbitMQ puts the unacknowledged messages of a closed connection back in '{}' itself\n",
               escaped(queue));
    return 0;
  }
  uint64_t total = 0;
  for (const auto& c : *result) {
    if (c.alive) {
      fmt::print("consumer '{}' is alive (lease held): left alone\n", escaped(c.consumerId));
    } else {
      fmt::print("consumer '{}' is gone: put {} message(s) back in '{}'\n", escaped(c.consumerId), c.recovered,
                 escaped(queue));
      total += c.recovered;
    }
  }
  fmt::print("recovered {} message(s) in all\n", total);
  return 0;
}

}  // namespace logship::ctl
