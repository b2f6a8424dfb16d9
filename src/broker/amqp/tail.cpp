#include "broker/amqp/tail.hpp"

#include <amqp_framing.h>

#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/consumer.hpp"
#include "broker/amqp/publisher.hpp"
#include "broker/amqp/shards.hpp"
#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {
namespace {

amqp_bytes_t bytesOf(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string bytesToString(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

timeval toTv(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

bool isMarker(const Delivery& d, std::string_view id) {
  for (const auto& h : d.headers) {
    if (h.key == AmqpTail::kMarkerHeader) return id.empty() || h.value == id;
  }
  return false;
}

}  // namespace

AmqpTail::AmqpTail(const BrokerOptions& broker, const TailOptions& options)
    : broker_(broker),
      options_(options),
      conn_(AmqpConnection::open(broker)),
      exchange_(exchangeName(options.queue)),
      keys_(bindingKeys(options.services, options.minLevel)) {
  // A tail of a queue that does not exist would show nothing, forever: say so instead (and first
  // that --shards does not match the queue, if that is why).
  checkShardLayout(conn_, 1, options_.queue, broker.shards);
  try {
    conn_.declareQueue(1, firstQueueName(options_.queue, broker.shards), true);
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
    throw BrokerRefusedError(
        e.code(), fmt::format("queue '{}' does not exist on {}: nothing is sent to it (check --queue{}; log_producer, "
                              "log_aggregator and logctl setup declare it)",
                              escaped(firstQueueName(options_.queue, broker.shards)), broker.url.redacted(),
                              broker.shards > 0 ? " and --shards" : ""));
  }
  // The exchange and the binding, for queues declared before them.
  const AmqpConnection::LogTopology topology = declareLogTopology(conn_, 1, options_.queue, broker.shards);
  if (!topology.throughExchange) {
    throw Error(
        fmt::format("exchange '{}' is a {} exchange declared by another program: logctl tail subscribes "
                    "through a topic exchange, and producers send the records of '{}' straight to the queue "
                    "instead (delete the exchange to let Logship declare it, or tail another --queue)",
                    escaped(exchange_), escaped(topology.exchangeType), escaped(options_.queue)));
  }

  amqp_table_entry_t args[3];
  args[0].key = amqp_cstring_bytes("x-max-length");
  args[0].value.kind = AMQP_FIELD_KIND_I64;
  args[0].value.value.i64 = options_.maxBacklog;
  args[1].key = amqp_cstring_bytes("x-max-length-bytes");
  args[1].value.kind = AMQP_FIELD_KIND_I64;
  args[1].value.value.i64 = static_cast<int64_t>(options_.maxBacklogBytes);
  args[2].key = amqp_cstring_bytes("x-overflow");
  args[2].value.kind = AMQP_FIELD_KIND_UTF8;
  args[2].value.value.bytes = amqp_cstring_bytes("drop-head");
  // durable=0, exclusive=1, auto_delete=1, server-named: gone with this connection.
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(conn_.get(), 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_table_t{3, args});
  conn_.check(amqp_get_rpc_reply(conn_.get()), "declaring the tail's own queue");
  ownQueue_ = bytesToString(ok->queue);
  for (const auto& key : keys_) conn_.bindQueue(1, ownQueue_, exchange_, key);

  amqp_basic_qos(conn_.get(), 1, 0, options_.prefetch, 0);
  conn_.check(amqp_get_rpc_reply(conn_.get()), "setting the prefetch count");
  amqp_basic_consume(conn_.get(), 1, bytesOf(ownQueue_), amqp_empty_bytes, 0, /*no_ack=*/0, /*exclusive=*/1,
                     amqp_empty_table);
  conn_.check(amqp_get_rpc_reply(conn_.get()), fmt::format("consuming from '{}'", ownQueue_));
  conn_.openChannel(checkChannel_);
  nextCheck_ = Clock::now() + options_.queueCheckInterval;
}

std::string AmqpTail::describe() const {
  std::vector<std::string> quoted;
  for (const auto& k : keys_) quoted.push_back(fmt::format("'{}'", escaped(k)));
  return fmt::format("queue '{}' bound to exchange '{}' with {} (at most {} messages kept when behind)",
                     escaped(ownQueue_), escaped(exchange_), fmt::join(quoted, ", "), options_.maxBacklog);
}

bool AmqpTail::receiveOne(std::vector<Delivery>& out, std::chrono::milliseconds timeout) {
  timeval tv = toTv(timeout);
  amqp_envelope_t envelope;
  const amqp_rpc_reply_t reply = amqp_consume_message(conn_.get(), &envelope, &tv, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    toDelivery(envelope, out.emplace_back());
    amqp_destroy_envelope(&envelope);
    return true;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) return false;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame(conn_.get(), &frame);
    if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, "reading from the broker");
    if (frame.frame_type != AMQP_FRAME_METHOD) return false;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_CANCEL_METHOD:
        // Someone deleted this tail's queue: a new subscription makes a new one.
        throw ConnectionError(
            fmt::format("the broker cancelled this tail's consumer (queue '{}' deleted?)", ownQueue_));
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: conn_.throwClosedByBroker(frame.payload.method, frame.channel);
      default: return false;
    }
  }
  conn_.throwReplyError(reply, fmt::format("consuming from '{}'", ownQueue_));
}

size_t AmqpTail::receive(std::vector<Delivery>& out, std::chrono::milliseconds timeout) {
  amqp_maybe_release_buffers(conn_.get());
  const auto deadline = Clock::now() + timeout;
  const size_t before = out.size();
  for (;;) {
    if (Clock::now() >= nextCheck_) checkQueue();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::min(deadline, nextCheck_) - Clock::now());
    const bool first = out.size() == before;
    if (!receiveOne(out, first ? left : std::chrono::milliseconds(0))) {
      if (!first || Clock::now() >= deadline) break;
      continue;  // a check is due before the deadline
    }
    const Delivery& d = out.back();
    if (awaitingMarker_ && isMarker(d, markerId_)) {
      awaitingMarker_ = false;
      out.pop_back();
      putBack(beforeMarker_, beforeMarkerComplete_, "after it was declared again");
      continue;
    }
    if (isMarker(d, {})) {  // an old marker (of an earlier put back): not a record
      out.pop_back();
      continue;
    }
    keep(d);
    if (out.size() - before >= options_.prefetch) break;
  }
  if (out.size() > before) {
    conn_.guardedSend([&] { return amqp_basic_ack(conn_.get(), 1, out.back().tag, /*multiple=*/1); },
                      "acknowledging tail messages");
  }
  if (awaitingMarker_ && Clock::now() >= markerDeadline_) {
    awaitingMarker_ = false;
    putBack(beforeMarker_, false,
            "after it was declared again (the marker never came back: the tail's queue "
            "dropped it)");
  }
  return out.size() - before;
}

void AmqpTail::finish(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  std::vector<Delivery> ignored;
  while (awaitingMarker_ && Clock::now() < deadline) {
    ignored.clear();
    receive(ignored, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  }
  if (awaitingMarker_) {
    awaitingMarker_ = false;
    putBack(beforeMarker_, false, "after it was declared again (stopped before the marker came back)");
  }
}

void AmqpTail::keep(const Delivery& d) {
  const size_t bytes = d.body.size() + 64;
  if (awaitingMarker_) {
    if (beforeMarkerBytes_ + bytes > kKeepBytes) {
      beforeMarkerComplete_ = false;
    } else {
      beforeMarker_.push_back(d);
      beforeMarkerBytes_ += bytes;
    }
    return;
  }
  if (recentBytes_ + bytes > kKeepBytes) {
    recentComplete_ = false;
    return;
  }
  recent_.push_back(d);
  recentBytes_ += bytes;
}

void AmqpTail::checkQueue() {
  nextCheck_ = Clock::now() + options_.queueCheckInterval;
  try {
    conn_.declareQueue(checkChannel_, firstQueueName(options_.queue, broker_.shards), true);
    older_ = std::move(recent_);
    olderBytes_ = recentBytes_;
    olderComplete_ = recentComplete_;
    recent_.clear();
    recentBytes_ = 0;
    recentComplete_ = true;
    return;
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
  }
  // The broker closed the check channel (404): go on with a new one.
  conn_.openChannel(++checkChannel_);
  spdlog::warn(
      "queue '{}' does not exist any more (deleted?): records this tail is shown reach no aggregator; "
      "declaring it again",
      escaped(firstQueueName(options_.queue, broker_.shards)));
  declareLogTopology(conn_, checkChannel_, options_.queue, broker_.shards);
  // Everything routed to this tail before the declare precedes the marker in its queue.
  std::random_device rd;
  markerId_ = fmt::format("{:08x}{:08x}", rd(), rd());
  Header marker{std::string(kMarkerHeader), markerId_};
  HeaderTable table;
  table.assign(std::span<const Header>(&marker, 1));
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_HEADERS_FLAG;
  props.headers = table.table();
  conn_.guardedSend(
      [&] {
        return amqp_basic_publish(conn_.get(), 1, amqp_empty_bytes, bytesOf(ownQueue_), 0, 0, &props, amqp_empty_bytes);
      },
      "publishing a marker to the tail's own queue");
  awaitingMarker_ = true;
  markerDeadline_ = Clock::now() + std::max(std::chrono::milliseconds(30'000), 10 * options_.queueCheckInterval);
  beforeMarker_.clear();
  beforeMarkerBytes_ = 0;
  beforeMarkerComplete_ = true;

  std::vector<Delivery> window = std::move(older_);
  window.insert(window.end(), std::make_move_iterator(recent_.begin()), std::make_move_iterator(recent_.end()));
  const bool complete = olderComplete_ && recentComplete_;
  older_.clear();
  recent_.clear();
  olderBytes_ = recentBytes_ = 0;
  olderComplete_ = recentComplete_ = true;
  putBack(window, complete, "before it was found missing");
}

void AmqpTail::putBack(std::vector<Delivery>& messages, bool complete, const char* when) {
  const std::string incomplete =
      complete ? std::string()
               : fmt::format(
                     " (not all of them: more than {} MB arrived, or the tail's queue dropped some; records "
                     "may be lost)",
                     kKeepBytes >> 20);
  if (messages.empty()) {
    if (!complete) spdlog::error("queue '{}' was deleted: {}", escaped(options_.queue), incomplete);
    return;
  }
  try {
    AmqpPublisher publisher(broker_, options_.queue, PublishRoute::Direct);
    Message m;
    for (const Delivery& d : messages) {
      m.body = d.body;
      m.headers = d.headers;
      m.timestampUs = d.brokerTimestampUs;
      publisher.publish(m);
    }
    std::vector<ConfirmRange> confirms;
    publisher.awaitConfirms(0, Clock::now() + broker_.rpcTimeout, confirms);
    uint64_t failed = publisher.unconfirmed();
    for (const auto& c : confirms) {
      if (!c.ok) failed += c.last - c.first + 1;
    }
    if (failed > 0) {
      spdlog::error("queue '{}' was deleted: put back only {} of the {} messages this tail received {}{}",
                    escaped(options_.queue), messages.size() - failed, messages.size(), when, incomplete);
    } else {
      spdlog::warn(
          "queue '{}' was deleted: put back the {} messages this tail received {}, which may have reached "
          "only this tail (the others are now in it twice){}",
          escaped(options_.queue), messages.size(), when, incomplete);
    }
  } catch (const Error& e) {
    spdlog::error("queue '{}' was deleted: could not put back the {} messages this tail received {}: {}",
                  escaped(options_.queue), messages.size(), when, e.what());
  }
  messages.clear();
}

}  // namespace logship::amqp
