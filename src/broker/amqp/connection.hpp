#pragma once
// RAII over a rabbitmq-c connection. Every rabbitmq-c failure is turned into a typed error in one
// place (throwReplyError / throwStatusError), so the rest of the adapter never inspects C codes.
#include <amqp.h>

#include <memory>
#include <string>
#include <string_view>

#include "broker/admin.hpp"
#include "broker/amqp/tls.hpp"
#include "broker/options.hpp"
#include "broker/send_watchdog.hpp"

namespace logship::amqp {

class AmqpConnection {
 public:
  // Connects, logs in and opens channel 1: one attempt (retrying is the caller's, see
  // broker/reconnecting.hpp). Throws ConnectionError (unreachable, timed out) or
  // BrokerRefusedError (bad credentials, vhost).
  static AmqpConnection open(const BrokerOptions& options);

  AmqpConnection(AmqpConnection&&) noexcept = default;
  AmqpConnection& operator=(AmqpConnection&&) noexcept = default;
  ~AmqpConnection() { close(); }

  amqp_connection_state_t get() const { return state_.get(); }
  explicit operator bool() const { return state_ != nullptr; }

  // Declares a durable queue with no arguments (what pika's queue_declare(durable=True) does),
  // or only checks it (passive). Returns its stats. Throws on failure.
  QueueStats declareQueue(amqp_channel_t channel, const std::string& name, bool passive);
  // Declares the whole topology of log queue `queue` (broker/amqp/topology.hpp), idempotently: its
  // durable topic exchange, the queue (as declareQueue) and the binding of the queue to the exchange
  // with '#'. Returns the queue's stats. Throws on failure (an exchange of that name and another
  // type is a BrokerRefusedError that says so).
  QueueStats declareLogQueue(amqp_channel_t channel, const std::string& queue);
  void declareExchange(amqp_channel_t channel, const std::string& exchange);
  void bindQueue(amqp_channel_t channel, const std::string& queue, const std::string& exchange, const std::string& key);
  void openChannel(amqp_channel_t channel);

  // Throws the typed error for a failed RPC reply; `what` names the operation. Answers a
  // broker's channel.close / connection.close so the broker sees an orderly close.
  // `channel` is the channel the RPC ran on: a channel.close is answered there.
  [[noreturn]] void throwReplyError(const amqp_rpc_reply_t& reply, std::string_view what, amqp_channel_t channel = 1);
  [[noreturn]] void throwStatusError(int status, std::string_view what);
  void check(const amqp_rpc_reply_t& reply, std::string_view what, amqp_channel_t channel = 1) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) throwReplyError(reply, what, channel);
  }
  // Handles a method frame the broker sent outside an RPC (channel.close, connection.close).
  [[noreturn]] void throwClosedByBroker(const amqp_method_t& method, amqp_channel_t channel);

  // Runs `send` (a rabbitmq-c call that writes frames and returns a status) under the send
  // watchdog: a socket that accepts no data for the RPC timeout fails it with TimeoutError.
  template <typename Send>
  void guardedSend(Send&& send, std::string_view what) {
    watchdog_->begin();
    const int status = send();
    watchdog_->end();
    if (status != AMQP_STATUS_OK) {
      if (watchdog_->fired()) throwStalled(what);
      throwStatusError(status, what);
    }
  }

  // Closes politely (bounded by the RPC timeout) and frees the handle. Idempotent.
  void close() noexcept;

 private:
  struct Deleter {
    void operator()(amqp_connection_state_t state) const noexcept { amqp_destroy_connection(state); }
  };
  AmqpConnection() = default;

  [[noreturn]] void throwStalled(std::string_view what);

  // amqps:// only. Declared before state_ so that it outlives the TLS context that points to it.
  std::unique_ptr<TlsSocket> tls_;
  std::unique_ptr<amqp_connection_state_t_, Deleter> state_;
  // Declared after state_ so that it stops before the socket it watches is closed.
  std::unique_ptr<SendWatchdog> watchdog_;
  bool broken_ = false;  // no polite close possible any more
};

}  // namespace logship::amqp
