#include "broker/amqp/publisher.hpp"

#include <charconv>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/shards.hpp"
#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {
namespace {
std::string bytesToString(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }
}  // namespace

AmqpPublisher::AmqpPublisher(const BrokerOptions& options, std::string queue, PublishRoute route)
    : conn_(AmqpConnection::open(options)), queue_(std::move(queue)), live_(route == PublishRoute::Live) {
  if (route == PublishRoute::DeadLetter) {
    conn_.ensureQueue(1, queue_);
    routingKey_ = queue_;
  } else {
    // An exchange of another program that cannot route every key: straight to the queue instead.
    if (!declareLogTopology(conn_, 1, queue_, options.shards).throughExchange) live_ = false;
    if (live_) {
      exchange_ = exchangeName(queue_);
    } else if (options.shards > 0) {
      exchange_ = shardExchangeName(queue_);  // routed on the message-id: any shard (no routing key)
    } else {
      routingKey_ = queue_;
    }
  }
  amqp_confirm_select(conn_.get(), 1);
  conn_.check(amqp_get_rpc_reply(conn_.get()), "enabling publisher confirms");
  std::random_device rd;
  instanceId_ = fmt::format("{:08x}{:08x}", rd(), rd());
}

uint64_t AmqpPublisher::publish(const Message& message) {
  headerTable_.assign(message.headers);
  const uint64_t seq = nextSeq_++;
  messageId_ = fmt::format("{}-{}", instanceId_, seq);

  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG;
  props.content_type = amqp_cstring_bytes("text/plain");
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.headers = headerTable_.table();
  props.message_id = amqp_bytes_t{messageId_.size(), messageId_.data()};
  if (message.timestampUs > 0) {
    props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    props.timestamp = static_cast<uint64_t>(message.timestampUs / 1'000'000);
  }
  // A compressed batch says so in the standard property too, for clients that know no logship header.
  if (isZstdBatch(message)) {
    props._flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG;
    props.content_encoding = amqp_cstring_bytes("zstd");
  }

  const amqp_bytes_t body{message.body.size(), const_cast<char*>(message.body.data())};
  if (live_) routingKey_ = routingKeyOf(message);
  const amqp_bytes_t exchange{exchange_.size(), const_cast<char*>(exchange_.data())};
  const amqp_bytes_t routingKey{routingKey_.size(), const_cast<char*>(routingKey_.data())};
  // mandatory=1: if the queue is gone (and no tail's queue took it) the broker returns the message
  // instead of dropping it. Through the exchange too: deleting the queue deletes its binding.
  conn_.guardedSend([&] { return amqp_basic_publish(conn_.get(), 1, exchange, routingKey, 1, 0, &props, body); },
                    "publishing");
  pending_.push_back(true);
  ++unconfirmed_;
  return seq;
}

size_t AmqpPublisher::awaitConfirms(size_t maxUnconfirmed, Clock::time_point deadline, std::vector<ConfirmRange>& out) {
  for (;;) {
    timeval tv{0, 0};
    if (unconfirmed_ > maxUnconfirmed) {
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
      if (left > 0) {
        tv.tv_sec = static_cast<time_t>(left / 1'000'000);
        tv.tv_usec = static_cast<suseconds_t>(left % 1'000'000);
      }
    }
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(conn_.get(), &frame, &tv);
    if (status == AMQP_STATUS_TIMEOUT) break;
    if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, "waiting for publisher confirms");
    handleFrame(frame, out);
    // rabbitmq-c decodes every frame (each basic.ack) into its channel's memory pool and frees it
    // only when asked: without this the pool grows by a 128 KiB page every few thousand confirms,
    // without bound (issue 15: the producer's RSS rose ~240-400 KB/min at 5,000 records/s). The
    // frame is handled, nothing points into the pool any more; the _on_channel variant keeps the
    // pool while frames queued by rabbitmq-c for that channel still live in it.
    amqp_maybe_release_buffers_on_channel(conn_.get(), frame.channel);
  }
  return unconfirmed_;
}

void AmqpPublisher::handleFrame(const amqp_frame_t& frame, std::vector<ConfirmRange>& out) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return;
  const amqp_method_t& method = frame.payload.method;
  switch (method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      const auto* ack = static_cast<const amqp_basic_ack_t*>(method.decoded);
      settle(ack->delivery_tag, ack->multiple != 0, true, out);
      return;
    }
    case AMQP_BASIC_NACK_METHOD: {
      const auto* nack = static_cast<const amqp_basic_nack_t*>(method.decoded);
      settle(nack->delivery_tag, nack->multiple != 0, false, out);
      return;
    }
    case AMQP_BASIC_RETURN_METHOD: {
      const auto* ret = static_cast<const amqp_basic_return_t*>(method.decoded);
      const std::string reason =
          fmt::format("returned by the broker: {} {}", ret->reply_code, bytesToString(ret->reply_text));
      amqp_message_t msg;
      conn_.check(amqp_read_message(conn_.get(), frame.channel, &msg, 0), "reading a returned message");
      const std::string id = (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0
                                 ? bytesToString(msg.properties.message_id)
                                 : std::string();
      amqp_destroy_message(&msg);
      const auto dash = id.rfind('-');
      uint64_t seq = 0;
      if (dash != std::string::npos) std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
      returned_[seq] = reason;  // its basic.ack follows and settles it as failed
      return;
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      const auto* blocked = static_cast<const amqp_connection_blocked_t*>(method.decoded);
      spdlog::warn("the broker blocked publishing: {} (waiting for it to clear)", bytesToString(blocked->reason));
      return;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD: spdlog::info("the broker unblocked publishing"); return;
    case AMQP_CHANNEL_CLOSE_METHOD:
      if (static_cast<const amqp_channel_close_t*>(method.decoded)->reply_code == AMQP_NOT_FOUND && live_) {
        // The exchange was deleted under us: a new connection declares it again (and the unconfirmed
        // messages are sent again), as for a deleted queue.
        try {
          conn_.throwClosedByBroker(method, frame.channel);
        } catch (const BrokerRefusedError& e) {
          throw ConnectionError(fmt::format("{} (exchange '{}' deleted?)", e.what(), escaped(exchange_)));
        }
      }
      conn_.throwClosedByBroker(method, frame.channel);
    case AMQP_CONNECTION_CLOSE_METHOD: conn_.throwClosedByBroker(method, frame.channel);
    default: return;
  }
}

void AmqpPublisher::settle(uint64_t tag, bool multiple, bool ok, std::vector<ConfirmRange>& out) {
  if (tag < base_ || tag >= base_ + pending_.size()) return;  // already settled
  const uint64_t first = multiple ? base_ : tag;
  for (uint64_t seq = first; seq <= tag; ++seq) {
    if (!pending_[seq - base_]) continue;
    pending_[seq - base_] = false;
    --unconfirmed_;
    bool seqOk = ok;
    std::string reason = ok ? std::string() : std::string("rejected by the broker (basic.nack)");
    if (auto it = returned_.find(seq); it != returned_.end()) {
      seqOk = false;
      reason = std::move(it->second);
      returned_.erase(it);
    }
    if (!out.empty() && out.back().last + 1 == seq && out.back().ok == seqOk && out.back().reason == reason) {
      out.back().last = seq;
    } else {
      out.push_back(ConfirmRange{seq, seq, seqOk, std::move(reason)});
    }
  }
  while (!pending_.empty() && !pending_.front()) {
    pending_.pop_front();
    ++base_;
  }
}

}  // namespace logship::amqp
