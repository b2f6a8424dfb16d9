#include "broker/factory.hpp"

#include "broker/amqp/admin.hpp"
#include "broker/amqp/consumer.hpp"
#include "broker/amqp/publisher.hpp"
#include "core/error.hpp"

namespace logship {
namespace {

void requireSupported(const BrokerOptions& broker) {
  switch (broker.url.scheme) {
    case BrokerUrl::Scheme::Amqp: return;
    case BrokerUrl::Scheme::Amqps:
      throw UsageError("amqps:// (TLS) is not supported yet; use amqp:// on a trusted network");
    case BrokerUrl::Scheme::Redis:
      throw UsageError("redis:// brokers are not supported yet; use amqp://");
  }
}

}  // namespace

std::unique_ptr<Publisher> makePublisher(const BrokerOptions& broker, const std::string& queue) {
  requireSupported(broker);
  return std::make_unique<amqp::AmqpPublisher>(broker, queue);
}

std::unique_ptr<Consumer> makeConsumer(const BrokerOptions& broker, const ConsumerOptions& options) {
  requireSupported(broker);
  return std::make_unique<amqp::AmqpConsumer>(broker, options);
}

std::unique_ptr<Admin> makeAdmin(const BrokerOptions& broker) {
  requireSupported(broker);
  return std::make_unique<amqp::AmqpAdmin>(broker);
}

}  // namespace logship
