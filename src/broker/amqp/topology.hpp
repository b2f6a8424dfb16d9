#pragma once
// The names of a log queue's RabbitMQ topology (docs/FORMATS.md, "Exchange and routing keys"). Pure
// functions, no rabbitmq-c types: the unit tests check them without a broker.
//
//   publisher (PublishRoute::Live) ──▶ topic exchange E ──"#"──▶ queue Q        (the aggregators)
//                                           └──"api.error"───▶ amq.gen-...     (a logctl tail)
//   tutorial client, aggregator ──▶ default exchange, routing key Q ──▶ queue Q
//
// Sharded (--shards N): the topic exchange feeds a consistent-hash exchange instead of queue Q:
//   topic exchange E ──"#"──▶ x-consistent-hash exchange Q.shards ──weight "1"──▶ Q.shard.0 ... Q.shard.N-1
//   aggregator (a redelivery sent on) ──▶ Q.shards directly (unseen by tails)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/options.hpp"
#include "core/level.hpp"
#include "core/message.hpp"

namespace logship::amqp {

// The exchange of the queue that log_producer uses by default.
inline constexpr std::string_view kDefaultExchange = "logs";
// Every log queue is bound to its exchange with this key: it gets every record.
inline constexpr std::string_view kQueueBindingKey = "#";
// At most this many bytes of a service name go into a routing key (a routing key holds at most 255).
inline constexpr size_t kMaxServiceKeyBytes = 240;

// Sharded log queues (docs/FORMATS.md, "Shards"). The hash exchange routes on each message's
// message-id property (every Logship publisher sets a new one per message): an even spread, unlike
// the routing key <service>.<level>, which a few busy services would skew. Weight 1 per shard
// (RabbitMQ's plugin keeps one bucket per unit of weight: large weights cost memory on 3.10).
inline constexpr std::string_view kShardExchangeType = "x-consistent-hash";
inline constexpr std::string_view kShardHashProperty = "message_id";
inline constexpr std::string_view kShardBindingWeight = "1";
inline constexpr std::string_view kShardPlugin = "rabbitmq_consistent_hash_exchange";
inline constexpr uint32_t kMaxShards = 256;
// "<queue>.shards": the consistent-hash exchange of a sharded queue.
std::string shardExchangeName(std::string_view queue);
// "<queue>.shard.<shard>" (shard counted from 0).
std::string shardQueueName(std::string_view queue, uint32_t shard);

// The durable topic exchange of log queue `queue`: "logs" for "logs_queue", "<queue>.logs" for any
// other queue (so producers of different queues never fill each other's; at most 255 bytes for a
// queue name of at most 250).
std::string exchangeName(std::string_view queue);

// "<service>.<level>": the service's bytes (cut to kMaxServiceKeyBytes), a dot, the canonical level
// name. The level is always the last word, so a service that holds dots stays selectable.
std::string routingKey(std::string_view service, Level level);

// The routing key of a message: from its logship-service and logship-level headers, which a batch
// shares among all its records (core/message.hpp, BatchBuilder). A plain message (no
// logship-version) and missing headers give what decodeMessage would: service "-", level info.
std::string routingKeyOf(const Message& message);

// The binding keys that select the records of any of `services` (empty: every service) at
// `minLevel` or above. Every record that matches is routed by at least one of them; a service whose
// name holds a word "*" or "#", or that is cut in its routing key, may select more, which the
// subscriber filters out itself.
std::vector<std::string> bindingKeys(const std::vector<std::string>& services, Level minLevel);

// The arguments a missing log queue is declared with (docs/FORMATS.md, "Queue types"): none for
// classic (the tutorial's declaration); x-queue-type quorum and x-queue-leader-locator balanced
// (leaders spread over the nodes) for quorum; x-queue-type stream and the retention
// (x-max-age, x-max-length-bytes) for stream.
struct QueueArgument {
  std::string key;
  std::string text;    // a long string, unless !isText
  int64_t number = 0;  // a signed 64-bit integer
  bool isText = true;
};
std::vector<QueueArgument> queueArguments(const QueueDeclaration& declaration);
// "classic", "quorum", "stream".
std::string_view queueTypeName(QueueType type);

// An exchange of this name that another program declared is used as it is (docs/FORMATS.md,
// "Using existing queues"). The type of such an exchange, read from the broker's refusal of our own
// declaration ("inequivalent arg 'type' for exchange 'logs' in vhost '/': received 'topic' but
// current is 'direct'"): nullopt when the refusal is about something else (durable, arguments).
std::optional<std::string> existingExchangeType(std::string_view refusal);
// Whether a queue bound to an exchange of this type with kQueueBindingKey gets every record that
// log_producer publishes to it: topic (any arguments), fanout, headers (a binding without arguments
// matches every message). Else (direct, x-consistent-hash, ...) producers publish straight to the
// queue through the default exchange, and logctl tail cannot subscribe.
bool routesEveryKey(std::string_view exchangeType);

}  // namespace logship::amqp
