#include "broker/amqp/shards.hpp"

#include <fmt/format.h>

#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {
namespace {

amqp_bytes_t bytesOf(std::string_view s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

void declareHashExchange(AmqpConnection& conn, amqp_channel_t channel, const std::string& exchange) {
  amqp_table_entry_t arg;
  arg.key = amqp_cstring_bytes("hash-property");
  arg.value.kind = AMQP_FIELD_KIND_UTF8;
  arg.value.value.bytes = bytesOf(kShardHashProperty);
  // durable=1, auto_delete=0, internal=0 (an aggregator publishes redeliveries to it directly).
  amqp_exchange_declare(conn.get(), channel, bytesOf(exchange), bytesOf(kShardExchangeType), 0, 1, 0, 0,
                        amqp_table_t{1, &arg});
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn.get());
  try {
    conn.check(reply, fmt::format("declaring exchange '{}'", escaped(exchange)), channel);
  } catch (const BrokerRefusedError& e) {
    if (auto hint = missingShardPlugin(e.code(), e.what())) throw BrokerRefusedError(e.code(), *hint);
    if (e.code() != AMQP_PRECONDITION_FAILED) throw;
    throw BrokerRefusedError(e.code(),
                             fmt::format("{} (a sharded queue routes through a durable {} exchange of this name with "
                                         "hash-property {}; another program declared it differently: delete it, e.g. "
                                         "rabbitmqctl delete_exchange '{}')",
                                         e.what(), kShardExchangeType, kShardHashProperty, escaped(exchange)));
  }
}

void bindExchange(AmqpConnection& conn, amqp_channel_t channel, const std::string& destination,
                  const std::string& source, std::string_view key) {
  amqp_exchange_bind(conn.get(), channel, bytesOf(destination), bytesOf(source), bytesOf(key), amqp_empty_table);
  conn.check(amqp_get_rpc_reply(conn.get()),
             fmt::format("binding exchange '{}' to exchange '{}' with '{}'", escaped(destination), escaped(source),
                         escaped(key)),
             channel);
}

// How many shards of `queue` exist: <queue>.shard.0, .1, ... up to the first missing one.
uint32_t countShards(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue) {
  uint32_t n = 0;
  while (n < kMaxShards && conn.findQueue(channel, shardQueueName(queue, n))) ++n;
  return n;
}

std::string shardRange(const std::string& queue, uint32_t count) {
  if (count == 0) return fmt::format("exchange '{}' exists, no shard", escaped(shardExchangeName(queue)));
  return fmt::format("{} to {} behind exchange '{}'", escaped(shardQueueName(queue, 0)),
                     escaped(shardQueueName(queue, count - 1)), escaped(shardExchangeName(queue)));
}

[[noreturn]] void refuseLayout(const std::string& line) { throw BrokerRefusedError(AMQP_PRECONDITION_FAILED, line); }

}  // namespace

void checkShardLayout(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue, uint32_t shards) {
  const bool plain = conn.findQueue(channel, queue).has_value();
  if (shards == 0) {
    if (plain || !conn.exchangeExists(channel, shardExchangeName(queue))) return;
    const uint32_t count = countShards(conn, channel, queue);
    refuseLayout(
        fmt::format("queue '{}' is sharded ({}): give --shards {} as its other programs do (without it a "
                    "plain queue '{}' would get a copy of every record, read by nobody)",
                    escaped(queue), shardRange(queue, count), count > 0 ? std::to_string(count) : "N", escaped(queue)));
  }
  if (plain) {
    refuseLayout(
        fmt::format("queue '{}' exists and is not sharded: drop --shards (with it, '{}' would get a copy of "
                    "every record); to move it to {} shards, drain and delete it first (docs/SCALING.md)",
                    escaped(queue), escaped(queue), shards));
  }
  // Shards are declared last to first, so shard 0 existing without shard N-1 is another N, never a
  // program with the same N half-way through its declaration.
  const auto exists = [&](uint32_t shard) { return conn.findQueue(channel, shardQueueName(queue, shard)).has_value(); };
  if (!exists(0)) return;
  if (exists(shards) || !exists(shards - 1)) {
    const uint32_t count = countShards(conn, channel, queue);
    refuseLayout(fmt::format("queue '{}' is sharded {} ways ({}), not {}: give --shards {} to every program of it",
                             escaped(queue), count, shardRange(queue, count), shards, count));
  }
}

std::optional<std::string> missingShardPlugin(int code, std::string_view text) {
  if (code != AMQP_COMMAND_INVALID || text.find(kShardExchangeType) == std::string_view::npos) return std::nullopt;
  return fmt::format(
      "the broker has no '{}' exchange type, which --shards needs: enable it on every node with "
      "`rabbitmq-plugins enable {}` ({})",
      kShardExchangeType, kShardPlugin, text);
}

QueueStats declareShardedLogQueue(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue,
                                  uint32_t shards) {
  const std::string topic = exchangeName(queue);
  const std::string hash = shardExchangeName(queue);
  std::vector<std::string> said;
  conn.ensureExchange(channel, topic, said);
  declareHashExchange(conn, channel, hash);
  QueueStats first;
  for (uint32_t i = shards; i-- > 0;) {  // last to first: see checkShardLayout
    const std::string name = shardQueueName(queue, i);
    // Used as it is if it exists; else declared as --queue-type says (quorum: leaders balanced).
    QueueStats stats = conn.ensureQueue(channel, name, &said, conn.newQueues());
    // Declared again, an existing binding is left as it is: the weights never grow.
    conn.bindQueue(channel, name, hash, std::string(kShardBindingWeight));
    if (i == 0) first = std::move(stats);
  }
  // Last: no record reaches the hash exchange before every shard is bound to it.
  bindExchange(conn, channel, hash, topic, kQueueBindingKey);
  return first;
}

AmqpConnection::LogTopology declareLogTopology(AmqpConnection& conn, amqp_channel_t channel, const std::string& queue,
                                               uint32_t shards, bool deadLetters, AmqpConnection::SayFound say) {
  checkShardLayout(conn, channel, queue, shards);
  if (shards == 0) return conn.declareLogQueue(channel, queue, deadLetters, say);
  AmqpConnection::LogTopology topology;
  topology.queue = declareShardedLogQueue(conn, channel, queue, shards);
  if (deadLetters) conn.ensureQueue(channel, deadLetterQueueName(queue));
  topology.found =
      fmt::format("'{}' is {} shards behind exchange '{}'", escaped(queue), shards, shardExchangeName(queue));
  return topology;
}

std::string firstQueueName(const std::string& queue, uint32_t shards) {
  return shards == 0 ? queue : shardQueueName(queue, 0);
}

}  // namespace logship::amqp
