#pragma once
#include <memory>
#include <string>

#include "broker/admin.hpp"
#include "broker/consumer.hpp"
#include "broker/options.hpp"
#include "broker/publisher.hpp"
#include "broker/tail.hpp"

namespace logship {

// The only place that knows which adapter serves which URL scheme.
// Each declares the queue it uses (durable, no arguments) before returning. With several URLs or
// BrokerOptions::reconnectFor > 0 the adapter is wrapped in a reconnecting decorator
// (broker/reconnecting.hpp); the make*Adapter* functions give the bare adapter.
std::unique_ptr<Publisher> makePublisher(const BrokerOptions& broker, const std::string& queue,
                                         PublishRoute route = PublishRoute::Direct);
std::unique_ptr<Consumer> makeConsumer(const BrokerOptions& broker, const ConsumerOptions& options);
std::unique_ptr<Admin> makeAdmin(const BrokerOptions& broker);
// logctl tail's subscription (broker/tail.hpp).
std::unique_ptr<TailSubscription> makeTail(const BrokerOptions& broker, const TailOptions& options);
// The delivery limits the broker itself applies to the queues `options` consumes: RabbitMQ quorum
// queues (x-delivery-limit, delivery-limit policies), read from the management API when
// broker.management enables it; Redis has none (asked false). Makes no AMQP connection; never
// throws for an unusable API (DeliveryLimits::unavailable says why).
DeliveryLimits findDeliveryLimits(const BrokerOptions& broker, const ConsumerOptions& options);
std::unique_ptr<Publisher> makeAdapterPublisher(const BrokerOptions& broker, const std::string& queue,
                                                PublishRoute route = PublishRoute::Direct);
std::unique_ptr<Consumer> makeAdapterConsumer(const BrokerOptions& broker, const ConsumerOptions& options);

}  // namespace logship
