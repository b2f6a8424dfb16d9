#pragma once
// The names of a log queue's RabbitMQ topology (docs/FORMATS.md, "Exchange and routing keys"). Pure
// functions, no rabbitmq-c types: the unit tests check them without a broker.
//
//   publisher (PublishRoute::Live) ──▶ topic exchange E ──"#"──▶ queue Q        (the aggregators)
//                                           └──"api.error"───▶ amq.gen-...     (a logctl tail)
//   tutorial client, aggregator ──▶ default exchange, routing key Q ──▶ queue Q
#include <string>
#include <string_view>
#include <vector>

#include "core/level.hpp"
#include "core/message.hpp"

namespace logship::amqp {

// The exchange of the queue that log_producer uses by default.
inline constexpr std::string_view kDefaultExchange = "logs";
// Every log queue is bound to its exchange with this key: it gets every record.
inline constexpr std::string_view kQueueBindingKey = "#";
// At most this many bytes of a service name go into a routing key (a routing key holds at most 255).
inline constexpr size_t kMaxServiceKeyBytes = 240;

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

}  // namespace logship::amqp
