#include "broker/amqp/admin.hpp"

#include <amqp_framing.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/headers.hpp"
#include "broker/amqp/publisher.hpp"
#include "broker/amqp/shards.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {

AmqpAdmin::AmqpAdmin(const BrokerOptions& options) : options_(options), conn_(AmqpConnection::open(options)) {}

AmqpAdmin::~AmqpAdmin() = default;

std::string AmqpAdmin::declareTopology(const std::string& queue) {
  return declareLogTopology(conn_, channel_, queue, options_.shards, /*deadLetters=*/true).found;
}

QueueStats AmqpAdmin::passiveStats(const std::string& queue) {
  try {
    return conn_.declareQueue(channel_, queue, true);
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
    // The broker closed the channel: continue on a fresh one.
    conn_.openChannel(++channel_);
    QueueStats missing;
    missing.name = queue;
    return missing;
  }
}

ManagementClient* AmqpAdmin::management() {
  if (managementTried_) return management_.get();
  managementTried_ = true;
  if (!options_.management.enabled) return nullptr;
  try {
    management_ = openManagement(options_);
  } catch (const ConnectionError& e) {
    spdlog::warn("{}; showing what a passive queue.declare tells instead (no unacked counts, no rates)", e.what());
  }
  return management_.get();
}

QueueStats AmqpAdmin::queueStats(const std::string& queue) {
  // Always over AMQP too: it is what producers and aggregators use (so a wrong password or an
  // unreachable listener shows here), and it gives the current counts where the API has none yet.
  QueueStats now = passiveStats(queue);
  ManagementClient* api = management();
  if (api == nullptr) return now;
  std::optional<QueueStats> sampled;
  try {
    sampled = api->queue(queue);
  } catch (const ConnectionError& e) {
    spdlog::warn("{}; showing what a passive queue.declare tells instead (no unacked counts, no rates)", e.what());
    management_.reset();
    return now;
  }
  if (!sampled && now.exists) {
    spdlog::warn(
        "the management API at {} does not know queue '{}', which exists over AMQP (is it another node's "
        "API? see --management-url); showing what a passive queue.declare tells instead",
        api->endpoint().text(), escaped(queue));
    return now;
  }
  if (!sampled || !now.exists) return now;
  // A queue the statistics database has not sampled yet has no message counts in the API.
  QueueStats merged = now;
  merged.source = StatsSource::ManagementApi;
  merged.messagesUnacked = sampled->messagesUnacked;
  merged.publishRate = sampled->publishRate;
  merged.deliverRate = sampled->deliverRate;
  merged.type = sampled->type;
  merged.leader = sampled->leader;
  merged.members = sampled->members;
  if (sampled->messagesUnacked) {
    merged.messagesReady = sampled->messagesReady;
    merged.consumers = sampled->consumers;
  }
  return merged;
}

bool AmqpAdmin::fetch(const std::string& queue, uint64_t& tag, uint64_t& remaining, Message& out) {
  const amqp_rpc_reply_t reply = amqp_basic_get(conn_.get(), channel_, amqp_cstring_bytes(queue.c_str()), 0);
  conn_.check(reply, "reading the dead-letter queue", channel_);
  if (reply.reply.id != AMQP_BASIC_GET_OK_METHOD) return false;  // basic.get-empty
  const auto* ok = static_cast<const amqp_basic_get_ok_t*>(reply.reply.decoded);
  tag = ok->delivery_tag;
  remaining = ok->message_count;
  amqp_message_t msg;
  conn_.check(amqp_read_message(conn_.get(), channel_, &msg, 0), "reading a dead letter", channel_);
  out.body.assign(static_cast<const char*>(msg.body.bytes), msg.body.len);
  out.headers.clear();
  if ((msg.properties._flags & AMQP_BASIC_HEADERS_FLAG) != 0) readHeaders(msg.properties.headers, out.headers);
  out.timestampUs = (msg.properties._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0
                        ? static_cast<int64_t>(msg.properties.timestamp) * 1'000'000
                        : 0;
  amqp_destroy_message(&msg);
  amqp_maybe_release_buffers_on_channel(conn_.get(), channel_);
  return true;
}

void AmqpAdmin::returnFetched() {
  conn_.check(amqp_channel_close(conn_.get(), channel_, AMQP_REPLY_SUCCESS), "giving the dead letters back", channel_);
  conn_.openChannel(channel_);
}

void AmqpAdmin::peekDeadLetters(const std::string& queue, const DeadLetterVisitor& visit) {
  const std::string dead = deadLetterQueueName(queue);
  if (!passiveStats(dead).exists) return;
  DeadLetter d;
  uint64_t tag = 0, remaining = 0, bound = 0;
  // Only the messages there at the start: those fetched are out of the queue until given back.
  while ((d.position == 0 || d.position < bound) && fetch(dead, tag, remaining, d.message)) {
    if (++d.position == 1) bound = remaining + 1;
    if (!visit(d)) break;
  }
  returnFetched();
}

uint64_t AmqpAdmin::requeueDeadLetters(const std::string& queue, const DeadLetterVisitor& select, uint64_t limit) {
  const std::string dead = deadLetterQueueName(queue);
  if (!passiveStats(dead).exists) return 0;
  // Through the queue's exchange with the record's routing key, as log_producer sends.
  AmqpPublisher publisher(options_, queue, PublishRoute::Live);
  std::vector<uint64_t> tags;  // of the dead copies published again, acked once confirmed
  std::vector<ConfirmRange> confirms;
  uint64_t moved = 0;
  auto settle = [&] {
    if (tags.empty()) return;
    confirms.clear();
    publisher.awaitConfirms(0, Clock::now() + options_.rpcTimeout, confirms);
    for (const ConfirmRange& c : confirms) {
      if (!c.ok) {
        throw Error(fmt::format("could not move a dead letter back to '{}': {}; it stays in '{}'", escaped(queue),
                                c.reason, escaped(dead)));
      }
    }
    if (publisher.unconfirmed() > 0) {
      throw Error(
          fmt::format("could not move a dead letter back to '{}': no confirm from the broker within {} ms; it "
                      "stays in '{}'",
                      escaped(queue), options_.rpcTimeout.count(), escaped(dead)));
    }
    for (uint64_t t : tags) {
      const int status = amqp_basic_ack(conn_.get(), channel_, t, 0);
      if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, "removing a requeued dead letter");
    }
    moved += tags.size();
    tags.clear();
  };
  DeadLetter d;
  uint64_t tag = 0, remaining = 0, bound = 0;
  while ((d.position == 0 || d.position < bound) && (limit == 0 || moved + tags.size() < limit) &&
         fetch(dead, tag, remaining, d.message)) {
    if (++d.position == 1) bound = remaining + 1;
    if (!select(d)) continue;
    publisher.publish(requeuedMessage(d.message));
    tags.push_back(tag);
    if (tags.size() >= 100) settle();
  }
  settle();
  returnFetched();  // the ones not selected
  return moved;
}

uint64_t AmqpAdmin::purgeDeadLetters(const std::string& queue) {
  const std::string dead = deadLetterQueueName(queue);
  if (!passiveStats(dead).exists) return 0;
  const auto* ok = amqp_queue_purge(conn_.get(), channel_, amqp_cstring_bytes(dead.c_str()));
  conn_.check(amqp_get_rpc_reply(conn_.get()), "purging the dead-letter queue", channel_);
  return ok->message_count;
}

}  // namespace logship::amqp
