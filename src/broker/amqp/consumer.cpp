#include "broker/amqp/consumer.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "broker/amqp/headers.hpp"
#include "core/error.hpp"

namespace logship::amqp {

void toDelivery(uint64_t tag, bool redelivered, const amqp_basic_properties_t& props, Delivery& d) {
  d.tag = tag;
  d.redelivered = redelivered;
  uint64_t brokerCount = 0;  // a quorum queue counts earlier deliveries; a classic queue gives only the flag
  if ((props._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
    readHeaders(props.headers, d.headers);
    brokerCount = integerEntry(props.headers, kDeliveryCountHeader).value_or(0);
    // The broker's count of this delivery, now in unrecordedFailures: never sent on with a copy.
    std::erase_if(d.headers, [](const Header& h) { return h.key == kDeliveryCountHeader; });
  }
  d.unrecordedFailures = static_cast<uint32_t>(
      std::min<uint64_t>(std::max<uint64_t>(brokerCount, d.redelivered ? 1 : 0), wire::kMaxDeliveries));
  if ((props._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
    d.brokerTimestampUs = static_cast<int64_t>(props.timestamp) * 1'000'000;
  }
}

void toDelivery(const amqp_envelope_t& envelope, Delivery& d) {
  toDelivery(envelope.delivery_tag, envelope.redelivered != 0, envelope.message.properties, d);
  const amqp_bytes_t& body = envelope.message.body;
  d.body.assign(static_cast<const char*>(body.bytes), body.len);
}

AmqpConsumer::AmqpConsumer(const BrokerOptions& options, const ConsumerOptions& consumerOptions)
    : conn_(AmqpConnection::open(options)), queue_(consumerOptions.queue), maxBodyBytes_(consumerOptions.maxBodyBytes) {
  conn_.declareLogQueue(1, queue_, /*deadLetters=*/true, AmqpConnection::SayFound::Always);  // the dead-letter queue ready before the first dead letter
  amqp_basic_qos(conn_.get(), 1, 0, consumerOptions.prefetch, 0);
  conn_.check(amqp_get_rpc_reply(conn_.get()), "setting the prefetch count");
  const amqp_basic_consume_ok_t* ok = amqp_basic_consume(conn_.get(), 1, amqp_cstring_bytes(queue_.c_str()),
                                                          amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
  conn_.check(amqp_get_rpc_reply(conn_.get()), fmt::format("consuming from '{}'", queue_));
  consumerTag_.assign(static_cast<const char*>(ok->consumer_tag.bytes), ok->consumer_tag.len);
}

bool AmqpConsumer::receiveOne(std::vector<Delivery>& out, timeval* timeout) {
  // Frame by frame (not amqp_consume_message, which reads a whole body into memory): the content
  // header declares the body's size before the body frames come.
  amqp_frame_t frame;
  const int status = amqp_simple_wait_frame_noblock(conn_.get(), &frame, timeout);
  if (status == AMQP_STATUS_TIMEOUT) return false;
  if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, fmt::format("consuming from '{}'", queue_));
  if (frame.frame_type != AMQP_FRAME_METHOD) return false;  // e.g. a heartbeat
  if (frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD) {
    otherMethod(frame);
    return false;
  }
  const auto* deliver = static_cast<const amqp_basic_deliver_t*>(frame.payload.method.decoded);
  Delivery& d = out.emplace_back();
  d.tag = deliver->delivery_tag;
  d.redelivered = deliver->redelivered != 0;
  readContent(d);
  return true;
}

void AmqpConsumer::readContent(Delivery& d) {
  amqp_frame_t frame;
  const char* what = "reading a delivery";
  int status = amqp_simple_wait_frame(conn_.get(), &frame);
  if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, what);
  if (frame.frame_type == AMQP_FRAME_METHOD) otherMethod(frame);  // a close instead of the content throws
  if (frame.frame_type != AMQP_FRAME_HEADER) throw ConnectionError("reading a delivery: no content header");
  const uint64_t size = frame.payload.properties.body_size;
  toDelivery(d.tag, d.redelivered, *static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded),
             d);
  const bool drop = maxBodyBytes_ > 0 && size > maxBodyBytes_;
  if (drop) {
    d.droppedBodySize = size;
  } else {
    d.body.reserve(size);
  }
  for (uint64_t got = 0; got < size;) {
    // The headers are copied: what rabbitmq-c decoded for this channel can go (one frame at a time).
    amqp_maybe_release_buffers_on_channel(conn_.get(), 1);
    status = amqp_simple_wait_frame(conn_.get(), &frame);
    if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, what);
    if (frame.frame_type == AMQP_FRAME_METHOD) otherMethod(frame);
    if (frame.frame_type != AMQP_FRAME_BODY) throw ConnectionError("reading a delivery: body frame missing");
    const amqp_bytes_t& part = frame.payload.body_fragment;
    if (!drop) d.body.append(static_cast<const char*>(part.bytes), part.len);
    got += part.len;
  }
}

void AmqpConsumer::otherMethod(const amqp_frame_t& frame) {
  switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD:
      throw BrokerRefusedError(0, fmt::format("the broker cancelled our consumer on '{}' (queue deleted?)", queue_));
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      conn_.throwClosedByBroker(frame.payload.method, frame.channel);
    default:
      return;  // e.g. a late basic.qos-ok: nothing to do
  }
}

size_t AmqpConsumer::receive(std::vector<Delivery>& out, size_t max, std::chrono::milliseconds timeout) {
  if (!conn_) throw ConnectionError("consumer is closed");
  // Every envelope of the previous call has been copied out: recycle rabbitmq-c's buffers.
  amqp_maybe_release_buffers(conn_.get());
  const size_t before = out.size();
  const size_t early = std::min(max, early_.size());
  std::move(early_.begin(), early_.begin() + static_cast<std::ptrdiff_t>(early), std::back_inserter(out));
  early_.erase(early_.begin(), early_.begin() + static_cast<std::ptrdiff_t>(early));
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  if (max == 0) {
    // The caller wants nothing now, but the connection must be serviced (heartbeats): a delivery
    // that arrives meanwhile waits in early_ for a receive that wants it.
    receiveOne(early_, &tv);
    return 0;
  }
  if (out.size() == before && !receiveOne(out, &tv)) return 0;
  timeval zero{0, 0};
  while (out.size() - before < max && receiveOne(out, &zero)) {
  }
  return out.size() - before;
}

void AmqpConsumer::ackUpTo(uint64_t tag) {
  conn_.guardedSend([&] { return amqp_basic_ack(conn_.get(), 1, tag, /*multiple=*/1); }, "acknowledging deliveries");
}

bool AmqpConsumer::stopForHandBack(std::vector<Delivery>& pushedAhead) {
  if (!conn_) return false;
  try {
    // After basic.cancel-ok the broker sends nothing more; every delivery it sent before is then
    // read (rabbitmq-c keeps the frames that came before the reply for amqp_consume_message).
    amqp_basic_cancel(conn_.get(), 1, amqp_bytes_t{consumerTag_.size(), consumerTag_.data()});
    conn_.check(amqp_get_rpc_reply(conn_.get()), fmt::format("cancelling our consumer on '{}'", queue_));
    std::move(early_.begin(), early_.end(), std::back_inserter(pushedAhead));
    early_.clear();
    timeval zero{0, 0};
    while (receiveOne(pushedAhead, &zero)) {
    }
  } catch (const ConnectionError&) {
    return false;  // everything goes back when the connection closes, redelivered
  }
  return true;
}

void AmqpConsumer::close() noexcept { conn_.close(); }

}  // namespace logship::amqp
