#pragma once
#include <memory>
#include <string>

#include "broker/admin.hpp"
#include "broker/consumer.hpp"
#include "broker/options.hpp"
#include "broker/publisher.hpp"

namespace logship {

// The only place that knows which adapter serves which URL scheme.
// Each declares the queue it uses (durable, no arguments) before returning.
std::unique_ptr<Publisher> makePublisher(const BrokerOptions& broker, const std::string& queue);
std::unique_ptr<Consumer> makeConsumer(const BrokerOptions& broker, const ConsumerOptions& options);
std::unique_ptr<Admin> makeAdmin(const BrokerOptions& broker);

}  // namespace logship
