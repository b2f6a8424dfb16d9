// Declaring a log queue's topology: each part is looked for first (a passive declare) and declared
// only if it is missing, so that queues and exchanges another program made (a quorum queue, a
// stream, x-max-length, a dead-letter exchange, an exchange of another type) are used as they are
// instead of being refused with 406 PRECONDITION_FAILED (docs/FORMATS.md, "Using existing queues").
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/connection.hpp"
#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {
namespace {

amqp_bytes_t bytesOf(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

// One line per topology and process: a reconnect finds the same and says nothing new.
void sayOnce(const std::string& line, bool loud) {
  static std::mutex mutex;
  static std::set<std::string> said;
  const std::lock_guard lock(mutex);
  if (!said.insert(line).second) return;
  if (loud) {
    spdlog::info("{}", line);
  } else {
    spdlog::debug("{}", line);
  }
}

QueueStats statsOf(const std::string& name, const amqp_queue_declare_ok_t& ok) {
  QueueStats stats;
  stats.name = name;
  stats.exists = true;
  stats.messagesReady = ok.message_count;
  stats.consumers = ok.consumer_count;
  return stats;
}

}  // namespace

QueueStats AmqpConnection::declareQueue(amqp_channel_t channel, const std::string& name, bool passive) {
  if (!passive) return declareNewQueue(channel, name, QueueDeclaration{});
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(get(), channel, amqp_cstring_bytes(name.c_str()), 1, 1, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(get()), fmt::format("declaring queue '{}'", name), channel);
  return statsOf(name, *ok);
}

QueueStats AmqpConnection::declareNewQueue(amqp_channel_t channel, const std::string& name,
                                           const QueueDeclaration& declaration) {
  const std::vector<QueueArgument> args = queueArguments(declaration);
  std::vector<amqp_table_entry_t> entries(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    entries[i].key = bytesOf(args[i].key);
    if (args[i].isText) {
      entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
      entries[i].value.value.bytes = bytesOf(args[i].text);
    } else {
      entries[i].value.kind = AMQP_FIELD_KIND_I64;
      entries[i].value.value.i64 = args[i].number;
    }
  }
  // durable=1, exclusive=0, auto_delete=0; classic: no arguments, equivalent to pika's durable=True.
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(get(), channel, bytesOf(name), 0, 1, 0, 0,
                                                   amqp_table_t{static_cast<int>(entries.size()), entries.data()});
  check(amqp_get_rpc_reply(get()), fmt::format("declaring queue '{}'", escaped(name)), channel);
  return statsOf(name, *ok);
}

std::optional<QueueStats> AmqpConnection::findQueue(amqp_channel_t channel, const std::string& name) {
  try {
    return declareQueue(channel, name, true);
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
    openChannel(channel);  // the broker closed it (and we answered close-ok): same number again
    return std::nullopt;
  }
}

QueueStats AmqpConnection::ensureQueue(amqp_channel_t channel, const std::string& name, std::vector<std::string>* said,
                                       const QueueDeclaration& declaration) {
  std::vector<std::string> own;
  std::vector<std::string>& out = said != nullptr ? *said : own;
  std::optional<QueueStats> stats = findQueue(channel, name);
  if (stats) {
    out.push_back(fmt::format("queue '{}' exists: used as it is", escaped(name)));
  } else {
    try {
      stats = declareNewQueue(channel, name, declaration);
      out.push_back(fmt::format("queue '{}' declared ({}, durable)", escaped(name), queueTypeName(declaration.type)));
    } catch (const BrokerRefusedError& e) {
      // Another program declared it differently between our look and our declare: use its queue.
      if (e.code() != AMQP_PRECONDITION_FAILED) throw;
      openChannel(channel);
      stats = declareQueue(channel, name, true);
      out.push_back(
          fmt::format("queue '{}' exists (declared meanwhile by another program): used as it is", escaped(name)));
    }
  }
  if (said == nullptr) sayOnce(own.front(), false);
  return *stats;
}

bool AmqpConnection::exchangeExists(amqp_channel_t channel, const std::string& exchange) {
  amqp_exchange_declare(get(), channel, bytesOf(exchange), amqp_cstring_bytes("topic"), /*passive=*/1, 0, 0, 0,
                        amqp_empty_table);
  try {
    check(amqp_get_rpc_reply(get()), fmt::format("looking for exchange '{}'", escaped(exchange)), channel);
    return true;
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
    openChannel(channel);
    return false;
  }
}

std::string AmqpConnection::ensureExchange(amqp_channel_t channel, const std::string& exchange,
                                           std::vector<std::string>& said) {
  const std::string what = fmt::format("declaring exchange '{}'", escaped(exchange));
  const bool existed = exchangeExists(channel, exchange);
  // Missing: declare it. Existing: the same declaration is a no-op on ours (or an equivalent one);
  // the broker refuses it on another program's exchange of another type or properties, and its
  // refusal is the only place AMQP tells the type. The exchange is left as it is either way.
  // durable=1, auto_delete=0, internal=0: it outlives its publishers and its queues' consumers.
  amqp_exchange_declare(get(), channel, bytesOf(exchange), amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
  try {
    check(amqp_get_rpc_reply(get()), what, channel);
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_PRECONDITION_FAILED) throw;
    openChannel(channel);
    std::string type = existingExchangeType(e.what()).value_or("topic");  // not const: returned by move
    said.push_back(fmt::format(
        "exchange '{}' exists as a {} exchange declared differently by another program: used "
        "as it is{}",
        escaped(exchange), escaped(type), routesEveryKey(type) ? "" : ", records go straight to the queue"));
    return type;
  }
  said.push_back(existed ? fmt::format("exchange '{}' exists", escaped(exchange))
                         : fmt::format("exchange '{}' declared (topic, durable)", escaped(exchange)));
  return "";
}

void AmqpConnection::bindQueue(amqp_channel_t channel, const std::string& queue, const std::string& exchange,
                               const std::string& key) {
  amqp_queue_bind(get(), channel, bytesOf(queue), bytesOf(exchange), bytesOf(key), amqp_empty_table);
  check(amqp_get_rpc_reply(get()),
        fmt::format("binding queue '{}' to exchange '{}' with '{}'", escaped(queue), escaped(exchange), escaped(key)),
        channel);
}

AmqpConnection::LogTopology AmqpConnection::declareLogQueue(amqp_channel_t channel, const std::string& queue,
                                                            bool deadLetters, SayFound say) {
  std::vector<std::string> said;
  LogTopology topology;
  const std::string exchange = exchangeName(queue);
  topology.exchangeType = ensureExchange(channel, exchange, said);
  topology.throughExchange = topology.exchangeType.empty() || routesEveryKey(topology.exchangeType);
  topology.queue = ensureQueue(channel, queue, &said, newQueues_);
  // A binding is idempotent and has no arguments that could differ: always made (unless the
  // exchange cannot route every key, then the queue is fed through the default exchange).
  if (topology.throughExchange) bindQueue(channel, queue, exchange, std::string(kQueueBindingKey));
  if (deadLetters) ensureQueue(channel, deadLetterQueueName(queue), &said);
  topology.found = fmt::format("{}", fmt::join(said, "; "));
  sayOnce(topology.found, say == SayFound::Always || !topology.exchangeType.empty());
  return topology;
}

}  // namespace logship::amqp
