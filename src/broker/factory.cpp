#include "broker/factory.hpp"

#include "broker/amqp/admin.hpp"
#include "broker/amqp/consumer.hpp"
#include "broker/amqp/management.hpp"
#include "broker/amqp/publisher.hpp"
#include "broker/amqp/tail.hpp"
#include "broker/reconnecting.hpp"
#include "broker/redis/admin.hpp"
#include "broker/redis/consumer.hpp"
#include "broker/redis/publisher.hpp"
#include "broker/redis/tail.hpp"
#include "core/error.hpp"

namespace logship {
namespace {

bool isRedis(const BrokerOptions& broker) {
  switch (broker.url.scheme) {
    case BrokerUrl::Scheme::Amqp:
    case BrokerUrl::Scheme::Amqps: return false;  // TLS is set up by AmqpConnection
    case BrokerUrl::Scheme::Redis:
    case BrokerUrl::Scheme::RedisSentinel: return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Publisher> makeAdapterPublisher(const BrokerOptions& broker, const std::string& queue,
                                                PublishRoute route) {
  if (isRedis(broker)) return std::make_unique<redis::RedisPublisher>(broker, queue, route);
  return std::make_unique<amqp::AmqpPublisher>(broker, queue, route);
}

std::unique_ptr<Consumer> makeAdapterConsumer(const BrokerOptions& broker, const ConsumerOptions& options) {
  if (isRedis(broker)) return std::make_unique<redis::RedisConsumer>(broker, options);
  return std::make_unique<amqp::AmqpConsumer>(broker, options);
}

namespace {
// Without reconnecting, the adapter itself, once the first connection is open; a list of URLs is
// still tried in turn.
bool plain(const BrokerOptions& broker) { return broker.reconnectFor.count() == 0; }
}  // namespace

std::unique_ptr<Publisher> makePublisher(const BrokerOptions& broker, const std::string& queue, PublishRoute route) {
  isRedis(broker);  // refuses unsupported schemes before anything else
  Opener<Publisher> opener = [queue, route](const BrokerOptions& one) {
    return makeAdapterPublisher(one, queue, route);
  };
  if (plain(broker)) return Reconnector(broker).connect(opener);
  return std::make_unique<ReconnectingPublisher>(broker, std::move(opener));
}

std::unique_ptr<Consumer> makeConsumer(const BrokerOptions& broker, const ConsumerOptions& options) {
  isRedis(broker);
  Opener<Consumer> opener = [options](const BrokerOptions& one) { return makeAdapterConsumer(one, options); };
  if (plain(broker)) return Reconnector(broker).connect(opener);
  return std::make_unique<ReconnectingConsumer>(broker, std::move(opener));
}

std::unique_ptr<Admin> makeAdmin(const BrokerOptions& broker) {
  const bool redis = isRedis(broker);
  return Reconnector(broker).connect(Opener<Admin>([redis](const BrokerOptions& one) -> std::unique_ptr<Admin> {
    if (redis) return std::make_unique<redis::RedisAdmin>(one);
    return std::make_unique<amqp::AmqpAdmin>(one);
  }));
}

DeliveryLimits findDeliveryLimits(const BrokerOptions& broker, const ConsumerOptions& options) {
  if (isRedis(broker)) return {};
  return amqp::readDeliveryLimits(broker, amqp::consumedQueues(options.queue, broker.shards, options.shardIds));
}

std::unique_ptr<TailSubscription> makeTail(const BrokerOptions& broker, const TailOptions& options) {
  const bool redis = isRedis(broker);
  return Reconnector(broker).connect(
      Opener<TailSubscription>([redis, options](const BrokerOptions& one) -> std::unique_ptr<TailSubscription> {
        if (redis) return std::make_unique<redis::RedisTail>(one, options);
        return std::make_unique<amqp::AmqpTail>(one, options);
      }));
}

}  // namespace logship
