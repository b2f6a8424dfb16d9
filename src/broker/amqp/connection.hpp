#pragma once
// RAII over a rabbitmq-c connection. Every rabbitmq-c failure is turned into a typed error in one
// place (throwReplyError / throwStatusError), so the rest of the adapter never inspects C codes.
#include <amqp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

  // What declareLogQueue found and did (docs/FORMATS.md, "Using existing queues").
  struct LogTopology {
    QueueStats queue;
    // log_producer's records go through the queue's exchange: it is ours (a durable topic exchange),
    // or another program's of a type that routes every key (routesEveryKey). False: they go straight
    // to the queue through the default exchange, and the queue is not bound to that exchange.
    bool throughExchange = true;
    std::string exchangeType;  // of an exchange another program declared differently; "" = ours or equivalent
    std::string found;         // one line: what was found and what was declared
  };
  // Who hears LogTopology::found (once per process): Notable = an info line only when an exchange of
  // another program is used differently (producers: the tutorial's command prints nothing else);
  // Always = an info line (the aggregator; logctl setup prints it itself).
  enum class SayFound { Notable, Always };

  // Declares a durable queue with no arguments (what pika's queue_declare(durable=True) does),
  // or only checks it (passive: a missing queue is a BrokerRefusedError AMQP_NOT_FOUND, and the
  // broker closed the channel). Returns its stats. Throws on failure.
  QueueStats declareQueue(amqp_channel_t channel, const std::string& name, bool passive);
  // A passive declare: the queue's stats, or nullopt if it does not exist (the channel, which the
  // broker closed, is opened again under the same number).
  std::optional<QueueStats> findQueue(amqp_channel_t channel, const std::string& name);
  // Uses queue `name` as it is if it exists, whatever its type and arguments (no 406); declares it
  // as declareQueue does only if it is missing. Appends what it found or did to `said`; without
  // `said`, logs it (once per process).
  // `declaration`: how it is declared if missing (the dead-letter queue: always classic).
  QueueStats ensureQueue(amqp_channel_t channel, const std::string& name, std::vector<std::string>* said = nullptr,
                         const QueueDeclaration& declaration = {});
  // The topology of log queue `queue` (broker/amqp/topology.hpp), each part declared only if it is
  // missing and an existing one used as it is (a missing queue is declared as the BrokerOptions'
  // newQueues say): its exchange (a durable topic exchange; one of
  // another type is kept, see LogTopology), the queue (as ensureQueue), its binding to the exchange
  // with '#', and with `deadLetters` the queue's dead-letter queue. Logs one line (once per
  // process, see SayFound; else at debug level) saying what it found. Throws on failure.
  LogTopology declareLogQueue(amqp_channel_t channel, const std::string& queue, bool deadLetters = false,
                              SayFound say = SayFound::Notable);
  // A passive exchange.declare: whether exchange `exchange` exists (a missing one: the channel, which
  // the broker closed, is opened again under the same number).
  bool exchangeExists(amqp_channel_t channel, const std::string& exchange);
  // Declares a durable topic exchange, or finds an existing one of that name: returns "" if it is
  // ours or equivalent, else its type (or "unknown"); appends what it found or did to `said`.
  std::string ensureExchange(amqp_channel_t channel, const std::string& exchange, std::vector<std::string>& said);
  void bindQueue(amqp_channel_t channel, const std::string& queue, const std::string& exchange, const std::string& key);
  void openChannel(amqp_channel_t channel);
  // How a missing log queue is declared (BrokerOptions::newQueues): its type and arguments.
  const QueueDeclaration& newQueues() const { return newQueues_; }

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
  // An active queue.declare: durable, with the arguments of `declaration` (amqp/topology.hpp).
  QueueStats declareNewQueue(amqp_channel_t channel, const std::string& name, const QueueDeclaration& declaration);

  // amqps:// only. Declared before state_ so that it outlives the TLS context that points to it.
  std::unique_ptr<TlsSocket> tls_;
  std::unique_ptr<amqp_connection_state_t_, Deleter> state_;
  // Declared after state_ so that it stops before the socket it watches is closed.
  std::unique_ptr<SendWatchdog> watchdog_;
  bool broken_ = false;         // no polite close possible any more
  QueueDeclaration newQueues_;  // BrokerOptions::newQueues
};

}  // namespace logship::amqp
