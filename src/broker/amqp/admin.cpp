#include "broker/amqp/admin.hpp"

#include <amqp_framing.h>

#include "core/error.hpp"

namespace logship::amqp {

AmqpAdmin::AmqpAdmin(const BrokerOptions& options) : options_(options), conn_(AmqpConnection::open(options)) {}

void AmqpAdmin::declareTopology(const std::string& queue) {
  conn_.declareQueue(channel_, queue, false);
  conn_.declareQueue(channel_, deadLetterQueueName(queue), false);
}

QueueStats AmqpAdmin::queueStats(const std::string& queue) {
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

}  // namespace logship::amqp
