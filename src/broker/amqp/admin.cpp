#include "broker/amqp/admin.hpp"

#include <amqp_framing.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {

AmqpAdmin::AmqpAdmin(const BrokerOptions& options) : options_(options), conn_(AmqpConnection::open(options)) {}

AmqpAdmin::~AmqpAdmin() = default;

void AmqpAdmin::declareTopology(const std::string& queue) {
  conn_.declareLogQueue(channel_, queue);
  conn_.declareQueue(channel_, deadLetterQueueName(queue), false);
}

QueueStats AmqpAdmin::passiveStats(const std::string& queue) {
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

ManagementClient* AmqpAdmin::management() {
  if (managementTried_) return management_.get();
  managementTried_ = true;
  if (!options_.management.enabled) return nullptr;
  // The URL was validated by the CLI; a derived one is checked against the node by probe().
  ManagementEndpoint endpoint = options_.management.url.empty() ? deriveManagementEndpoint(options_.url)
                                                                 : parseManagementUrl(options_.management.url);
  if (options_.management.requireTls && !endpoint.https) {
    spdlog::warn("--require-tls: not using the management API at {} (http:// would send the password in clear "
                 "text; give an https:// --management-url); showing what a passive queue.declare tells instead",
                 endpoint.text());
    return nullptr;
  }
  try {
    auto client = std::make_unique<ManagementClient>(std::move(endpoint), options_);
    client->probe();
    management_ = std::move(client);
  } catch (const ConnectionError& e) {
    spdlog::warn("{}; showing what a passive queue.declare tells instead (no unacked counts, no rates)", e.what());
  }
  return management_.get();
}

QueueStats AmqpAdmin::queueStats(const std::string& queue) {
  // Always over AMQP too: it is what producers and aggregators use (so a wrong password or an
  // unreachable listener shows here), and it gives the current counts where the API has none yet.
  QueueStats now = passiveStats(queue);
  ManagementClient* api = management();
  if (api == nullptr) return now;
  std::optional<QueueStats> sampled;
  try {
    sampled = api->queue(queue);
  } catch (const ConnectionError& e) {
    spdlog::warn("{}; showing what a passive queue.declare tells instead (no unacked counts, no rates)", e.what());
    management_.reset();
    return now;
  }
  if (!sampled && now.exists) {
    spdlog::warn("the management API at {} does not know queue '{}', which exists over AMQP (is it another node's "
                 "API? see --management-url); showing what a passive queue.declare tells instead",
                 api->endpoint().text(), escaped(queue));
    return now;
  }
  if (!sampled || !now.exists) return now;
  // A queue the statistics database has not sampled yet has no message counts in the API.
  QueueStats merged = now;
  merged.source = StatsSource::ManagementApi;
  merged.messagesUnacked = sampled->messagesUnacked;
  merged.publishRate = sampled->publishRate;
  merged.deliverRate = sampled->deliverRate;
  if (sampled->messagesUnacked) {
    merged.messagesReady = sampled->messagesReady;
    merged.consumers = sampled->consumers;
  }
  return merged;
}

}  // namespace logship::amqp
