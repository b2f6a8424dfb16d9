#include "broker/factory.hpp"

#include "broker/reconnecting.hpp"
#include "broker/amqp/admin.hpp"
#include "broker/amqp/consumer.hpp"
#include "broker/amqp/publisher.hpp"
#include "broker/redis/admin.hpp"
#include "broker/redis/consumer.hpp"
#include "broker/redis/publisher.hpp"
#include "core/error.hpp"

namespace logship {
namespace {

bool isRedis(const BrokerOptions& broker) {
  switch (broker.url.scheme) {
    case BrokerUrl::Scheme::Amqp: return false;
    case BrokerUrl::Scheme::Redis: return true;
    case BrokerUrl::Scheme::Amqps: return false;  // TLS is set up by AmqpConnection
  }
  return false;
}

}  // namespace

std::unique_ptr<Publisher> makeAdapterPublisher(const BrokerOptions& broker, const std::string& queue) {
  if (isRedis(broker)) return std::make_unique<redis::RedisPublisher>(broker, queue);
  return std::make_unique<amqp::AmqpPublisher>(broker, queue);
}

std::unique_ptr<Consumer> makeAdapterConsumer(const BrokerOptions& broker, const ConsumerOptions& options) {
  if (isRedis(broker)) return std::make_unique<redis::RedisConsumer>(broker, options);
  return std::make_unique<amqp::AmqpConsumer>(broker, options);
}

namespace {
// One URL and no reconnecting: the adapter itself (it retries the first connection).
bool plain(const BrokerOptions& broker) { return broker.urls.size() <= 1 && broker.reconnectFor.count() == 0; }
}  // namespace

std::unique_ptr<Publisher> makePublisher(const BrokerOptions& broker, const std::string& queue) {
  isRedis(broker);  // refuses unsupported schemes before anything else
  if (plain(broker)) return makeAdapterPublisher(broker, queue);
  return std::make_unique<ReconnectingPublisher>(
      broker, [queue](const BrokerOptions& one) { return makeAdapterPublisher(one, queue); });
}

std::unique_ptr<Consumer> makeConsumer(const BrokerOptions& broker, const ConsumerOptions& options) {
  isRedis(broker);
  if (plain(broker)) return makeAdapterConsumer(broker, options);
  return std::make_unique<ReconnectingConsumer>(
      broker, [options](const BrokerOptions& one) { return makeAdapterConsumer(one, options); });
}

std::unique_ptr<Admin> makeAdmin(const BrokerOptions& broker) {
  if (isRedis(broker)) return std::make_unique<redis::RedisAdmin>(broker);
  return std::make_unique<amqp::AmqpAdmin>(broker);
}

}  // namespace logship
