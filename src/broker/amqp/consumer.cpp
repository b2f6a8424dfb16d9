#include "broker/amqp/consumer.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/headers.hpp"
#include "broker/amqp/shards.hpp"
#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"

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
    if (const auto offset = integerEntry(props.headers, kStreamOffsetHeader)) {
      d.streamOffset = static_cast<int64_t>(std::min<uint64_t>(*offset, INT64_MAX));
      std::erase_if(d.headers, [](const Header& h) { return h.key == kStreamOffsetHeader; });
    }
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
    : conn_(AmqpConnection::open(options)),
      queue_(consumerOptions.queue),
      queues_(consumedQueues(consumerOptions.queue, options.shards, consumerOptions.shardIds)),
      maxBodyBytes_(consumerOptions.maxBodyBytes) {
  if (options.shards == 0 && consumerOptions.stream && queueIsStream()) {
    // It exists: declaring it as a classic queue would be refused. Its dead-letter queue is declared
    // by the first dead letter only: a stream is read through any node holding a replica, and a
    // classic queue.dead whose node is down must not keep the reader from failing over.
    stream_ = consumerOptions.stream;
  } else {
    declareLogTopology(conn_, 1, queue_, options.shards, false, AmqpConnection::SayFound::Always);
    declareDeadLetterQueue();
  }
  // A prefetch per consumer (quorum queues refuse a channel-wide one), shared out so that all of
  // them together hold about --prefetch unacknowledged deliveries.
  const auto perQueue = static_cast<uint16_t>((consumerOptions.prefetch + queues_.size() - 1) / queues_.size());
  amqp_basic_qos(conn_.get(), 1, 0, perQueue, 0);
  conn_.check(amqp_get_rpc_reply(conn_.get()), "setting the prefetch count");
  consume();
}

std::vector<std::string> consumedQueues(const std::string& queue, uint32_t shards, const std::vector<uint32_t>& ids) {
  if (shards == 0) return {queue};
  std::vector<std::string> names;
  if (ids.empty()) {
    for (uint32_t i = 0; i < shards; ++i) names.push_back(shardQueueName(queue, i));
  } else {
    for (uint32_t i : ids) names.push_back(shardQueueName(queue, i));
  }
  return names;
}

namespace {

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// basic.consume's x-stream-offset for where `stream` starts.
amqp_field_value_t streamOffsetValue(const StreamPosition& stream) {
  amqp_field_value_t v{};
  if (stream.next) {
    v.kind = AMQP_FIELD_KIND_I64;
    v.value.i64 = *stream.next;
    return v;
  }
  switch (stream.start.kind) {
    case StreamStart::Kind::Offset:
      v.kind = AMQP_FIELD_KIND_I64;
      v.value.i64 = stream.start.value;
      return v;
    case StreamStart::Kind::Timestamp:
      v.kind = AMQP_FIELD_KIND_TIMESTAMP;  // seconds
      v.value.u64 = static_cast<uint64_t>(stream.start.value);
      return v;
    case StreamStart::Kind::First: v.value.bytes = amqp_cstring_bytes("first"); break;
    case StreamStart::Kind::Last: v.value.bytes = amqp_cstring_bytes("last"); break;
    case StreamStart::Kind::Next: v.value.bytes = amqp_cstring_bytes("next"); break;
  }
  v.kind = AMQP_FIELD_KIND_UTF8;
  return v;
}

std::string describe(const StreamPosition& stream) {
  if (stream.next) return fmt::format("at offset {}", *stream.next);
  switch (stream.start.kind) {
    case StreamStart::Kind::First: return "from its first record (--stream-from first)";
    case StreamStart::Kind::Last: return "from its last chunk (--stream-from last)";
    case StreamStart::Kind::Next: return "from the next record published (--stream-from next)";
    case StreamStart::Kind::Offset: return fmt::format("at offset {} (--stream-from)", stream.start.value);
    case StreamStart::Kind::Timestamp:
      return fmt::format("from {} (--stream-from)", formatTimestamp(stream.start.value * 1'000'000));
  }
  return {};
}

}  // namespace

bool AmqpConsumer::queueIsStream() {
  // No basic.qos on the probe channel: a stream refuses a consumer without a prefetch, after it
  // checked the arguments, so nothing is ever delivered here.
  conn_.openChannel(kProbeChannel);
  amqp_table_entry_t arg{};
  arg.key = amqp_cstring_bytes(kStreamOffsetHeader.data());
  arg.value.kind = AMQP_FIELD_KIND_UTF8;
  arg.value.value.bytes = amqp_cstring_bytes("next");
  amqp_basic_consume(conn_.get(), kProbeChannel, amqp_cstring_bytes(queue_.c_str()), amqp_empty_bytes, 0, 0, 0,
                     amqp_table_t{1, &arg});
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_.get());
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {  // only a stream takes x-stream-offset
    amqp_channel_close(conn_.get(), kProbeChannel, AMQP_REPLY_SUCCESS);
    return true;
  }
  try {
    conn_.throwReplyError(reply, fmt::format("finding out the type of queue '{}'", queue_), kProbeChannel);
  } catch (const BrokerRefusedError& e) {
    if (e.code() == AMQP_NOT_FOUND) return false;  // declared below, as a classic queue
    if (e.code() == AMQP_PRECONDITION_FAILED && contains(e.what(), "invalid arg 'x-stream-offset'")) return false;
    if (e.code() == AMQP_PRECONDITION_FAILED && contains(e.what(), "prefetch count is not set")) return true;
    throw;
  }
}

void AmqpConsumer::consume() {
  // One channel for all: delivery tags count up across the queues, so ackUpTo stays one multiple-ack.
  consumerTags_.clear();
  for (const std::string& queue : queues_) consumeOne(queue);
  if (!stream_) return;
  expectedFirst_ = stream_->next;
  spdlog::info("'{}' is a stream: reading it {}", escaped(queue_), describe(*stream_));
}

void AmqpConsumer::consumeOne(const std::string& queue) {
  amqp_table_entry_t arg{};
  amqp_table_t args = amqp_empty_table;
  if (stream_) {
    arg.key = amqp_cstring_bytes(kStreamOffsetHeader.data());
    arg.value = streamOffsetValue(*stream_);
    args = amqp_table_t{1, &arg};
  }
  const amqp_basic_consume_ok_t* ok =
      amqp_basic_consume(conn_.get(), 1, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, /*no_ack=*/0, 0, args);
  const amqp_rpc_reply_t reply = amqp_get_rpc_reply(conn_.get());
  try {
    conn_.check(reply, fmt::format("consuming from '{}'", escaped(queue)));
  } catch (const BrokerRefusedError& e) {
    if (!stream_ || e.code() != AMQP_PRECONDITION_FAILED || !contains(e.what(), "does not have a replica")) throw;
    // Tried as a failure of this node: with a --broker list the next node is tried.
    throw ConnectionError(fmt::format(
        "'{}' is a stream with no replica on the node we connected to, and a stream is read only through a node "
        "holding one: give --broker a list that includes such a node (rabbitmq-streams stream_status '{}' lists "
        "them), or add a replica here (rabbitmq-streams add_replica '{}' NODE)",
        escaped(queue), escaped(queue), escaped(queue)));
  }
  consumerTags_.emplace_back(static_cast<const char*>(ok->consumer_tag.bytes), ok->consumer_tag.len);
}

void AmqpConsumer::advanceStream(const std::vector<Delivery>& out, size_t from) {
  if (!stream_) return;
  if (expectedFirst_ && from < out.size() && out[from].streamOffset > *expectedFirst_) {
    spdlog::warn(
        "'{}' no longer holds offsets {} to {} (deleted by the stream's retention before they were read): "
        "reading on from {}",
        escaped(queue_), *expectedFirst_, out[from].streamOffset - 1, out[from].streamOffset);
  }
  if (from < out.size()) expectedFirst_.reset();
  for (size_t i = out.size(); i > from; --i) {
    if (out[i - 1].streamOffset >= 0) {
      stream_->next = out[i - 1].streamOffset + 1;
      return;
    }
  }
}

void AmqpConsumer::declareDeadLetterQueue() {
  // Ready before the first dead letter; on a channel of its own, so that a dead-letter queue whose
  // cluster node is down does not keep us from consuming (a dead letter then waits for that node).
  const std::string dead = deadLetterQueueName(queue_);
  try {
    conn_.openChannel(kDeadLetterChannel);
    conn_.ensureQueue(kDeadLetterChannel, dead);  // an existing one used as it is
  } catch (const UnavailableError& e) {
    spdlog::warn("{}; consuming anyway: a record to dead-letter waits until '{}' is back", e.what(), dead);
  }
}

[[noreturn]] void AmqpConsumer::cancelledByBroker(const std::string& queue) {
  // The broker cancels a consumer (consumer_cancel_notify) when its queue is deleted, and also when
  // the node holding a classic queue or a stream replica goes down while the queue lives on. Only
  // a queue that is gone is fatal; otherwise the reconnecting consumer subscribes again.
  try {
    conn_.openChannel(kCheckChannel);
    conn_.declareQueue(kCheckChannel, queue, /*passive=*/true);
  } catch (const BrokerRefusedError& e) {
    if (e.code() != AMQP_NOT_FOUND) throw;
    throw BrokerRefusedError(
        e.code(), fmt::format("the broker cancelled our consumer on '{}': the queue was deleted", escaped(queue)));
  } catch (const UnavailableError& e) {
    throw UnavailableError(fmt::format("the broker cancelled our consumer on '{}': {}", escaped(queue), e.what()));
  }
  throw ConnectionError(
      fmt::format("the broker cancelled our consumer on '{}' (the queue still exists: a cluster node "
                  "went down or its leader moved)",
                  queue_));
}

bool AmqpConsumer::receiveOne(std::vector<Delivery>& out, timeval* timeout) {
  // Frame by frame (not amqp_consume_message, which reads a whole body into memory): the content
  // header declares the body's size before the body frames come.
  amqp_frame_t frame;
  const int status = amqp_simple_wait_frame_noblock(conn_.get(), &frame, timeout);
  if (status == AMQP_STATUS_TIMEOUT) return false;
  if (status != AMQP_STATUS_OK) conn_.throwStatusError(status, fmt::format("consuming from '{}'", queue_));
  if (frame.channel == kProbeChannel) return false;         // the type probe's close-ok
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
  toDelivery(d.tag, d.redelivered, *static_cast<const amqp_basic_properties_t*>(frame.payload.properties.decoded), d);
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
    case AMQP_BASIC_CANCEL_METHOD: {
      const auto* cancel = static_cast<const amqp_basic_cancel_t*>(frame.payload.method.decoded);
      const std::string tag(static_cast<const char*>(cancel->consumer_tag.bytes), cancel->consumer_tag.len);
      const auto it = std::find(consumerTags_.begin(), consumerTags_.end(), tag);
      cancelledByBroker(it == consumerTags_.end() ? queue_ : queues_[static_cast<size_t>(it - consumerTags_.begin())]);
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: try { conn_.throwClosedByBroker(frame.payload.method, frame.channel);
      } catch (const BrokerRefusedError& e) {
        // A channel process that crashed (e.g. rabbitmq-server #5927 on 3.10.8, quorum queues) is a
        // broken connection, not a refusal: consume again on a new one.
        if (e.code() == AMQP_INTERNAL_ERROR)
          throw ConnectionError(fmt::format("consuming from '{}': {}", queue_, e.what()));
        throw;
      }
    default: return;  // e.g. a late basic.qos-ok: nothing to do
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
  advanceStream(out, before);
  return out.size() - before;
}

void AmqpConsumer::ackUpTo(uint64_t tag) {
  conn_.guardedSend([&] { return amqp_basic_ack(conn_.get(), 1, tag, /*multiple=*/1); }, "acknowledging deliveries");
}

bool AmqpConsumer::stopForHandBack(std::vector<Delivery>& pushedAhead) {
  // A stream keeps every record: nothing is given back, the reader's saved offset says where it
  // resumes (copies published to a stream would be duplicates).
  if (!conn_ || stream_) return false;
  try {
    // After basic.cancel-ok the broker sends nothing more; every delivery it sent before is then
    // read (rabbitmq-c keeps the frames that came before the reply for amqp_consume_message).
    for (size_t i = 0; i < consumerTags_.size(); ++i) {
      amqp_basic_cancel(conn_.get(), 1, amqp_bytes_t{consumerTags_[i].size(), consumerTags_[i].data()});
      conn_.check(amqp_get_rpc_reply(conn_.get()), fmt::format("cancelling our consumer on '{}'", escaped(queues_[i])));
    }
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
