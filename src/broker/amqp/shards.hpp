#pragma once
// One logical log queue over N queues (--shards N; docs/FORMATS.md, "Shards"): declaring it, and
// the one error a broker without the consistent-hash exchange plugin gives.
#include <optional>
#include <string>
#include <string_view>

#include "broker/amqp/connection.hpp"

namespace logship::amqp {

// Declares, idempotently, the topology of log queue `queue` split into `shards` queues
// (broker/amqp/topology.hpp): its topic exchange, the consistent-hash exchange <queue>.shards
// (hash-property message_id) bound to it with '#', and the queues <queue>.shard.0 ... each bound
// with weight 1. Returns the stats of shard 0. Throws BrokerRefusedError, with the command that
// enables the plugin when the broker does not know the exchange type.
QueueStats declareShardedLogQueue(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue,
                                  uint32_t shards);

// Throws BrokerRefusedError (one line naming the --shards to give) when `shards` does not match what
// exists: 0 on a sharded queue (exchange <queue>.shards and no plain <queue>: a plain one would get a
// copy of every record), N on a plain <queue>, or N on a queue sharded M != N ways.
void checkShardLayout(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue, uint32_t shards);

// checkShardLayout, then declareLogQueue for shards == 0, else declareShardedLogQueue (and with
// `deadLetters` the shared <queue>.dead): what every program declares.
AmqpConnection::LogTopology declareLogTopology(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue,
                                               uint32_t shards, bool deadLetters = false,
                                               AmqpConnection::SayFound say = AmqpConnection::SayFound::Notable);

// The queue that must exist for records of `queue` to reach an aggregator: the queue, or its shard 0.
std::string firstQueueName(const std::string& queue, uint32_t shards);

// For a refused exchange.declare (`code`, the broker's `text`): the one line that says the
// consistent-hash exchange plugin is off and how to enable it; nullopt for any other refusal.
std::optional<std::string> missingShardPlugin(int code, std::string_view text);

}  // namespace logship::amqp
