#pragma once
// RabbitMQ's management HTTP API, as logctl status reads it. Public types only: cpp-httplib stays
// inside management.cpp.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/admin.hpp"
#include "broker/options.hpp"
#include "core/error.hpp"

namespace logship::amqp {

// Where the management API is: scheme://host:port and a path prefix ("" or "/prefix").
struct ManagementEndpoint {
  bool https = false;
  std::string host;  // IPv6 without brackets
  uint16_t port = 15672;
  std::string prefix;
  bool derived = false;      // guessed from the broker URL rather than given
  std::string text() const;  // http://host:port/prefix (no credentials: they never are in it)
};

// --management-url: http[s]://HOST[:PORT][/PREFIX]; no user info, query or fragment. Throws UsageError.
ManagementEndpoint parseManagementUrl(std::string_view text);
// http://HOST:15672 for amqp://, https://HOST:15671 for amqps://.
ManagementEndpoint deriveManagementEndpoint(const BrokerUrl& broker);
// Percent-encodes a path segment (vhost, queue name): everything but A-Z a-z 0-9 - . _ ~.
std::string encodePathSegment(std::string_view segment);
// True if the /api/overview document lists an AMQP listener (amqp or amqp/ssl) on `port`.
bool overviewListensOn(std::string_view overviewJson, uint16_t port);
// Fills ready, unacked, consumers, the rates, type and placement and (a quorum queue) the delivery
// limit from a /api/queues/VHOST/NAME document. Fields the
// document lacks (statistics not collected yet) are left as they are. Throws ConnectionError if it
// is not JSON.
void readQueueDocument(std::string_view json, QueueStats& stats);

// Thrown when the API cannot be used: unreachable, refused (401/403), not RabbitMQ, another node.
class ManagementUnavailable : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

class ManagementClient {
 public:
  ManagementClient(ManagementEndpoint endpoint, const BrokerOptions& broker);
  ManagementClient(const ManagementClient&) = delete;
  ManagementClient& operator=(const ManagementClient&) = delete;
  ~ManagementClient();

  // Checks that the API answers with our credentials (and, for a derived endpoint, that it is the
  // node behind the broker URL). Throws ManagementUnavailable.
  void probe();
  // Statistics of a queue; nullopt if it does not exist. Throws ManagementUnavailable.
  std::optional<QueueStats> queue(const std::string& name);
  const ManagementEndpoint& endpoint() const { return endpoint_; }

 private:
  struct Impl;
  // The body of GET prefix+path, or nullopt for 404. Throws ManagementUnavailable.
  std::optional<std::string> get(const std::string& path);

  ManagementEndpoint endpoint_;
  std::string vhost_;
  std::string user_;
  uint16_t amqpPort_;
  std::unique_ptr<Impl> impl_;
};

// The API as BrokerOptions::management says (its URL, or derived from the broker URL), probed.
// Throws ManagementUnavailable: unreachable, refused, another node, or http:// with --require-tls.
std::unique_ptr<ManagementClient> openManagement(const BrokerOptions& broker);

// The delivery limits of `queues` (log_aggregator, docs/RELIABILITY.md "Poison messages"). A quorum
// queue whose policies the API has not sampled yet is asked again until they are (a queue declared
// seconds ago), for at most broker.rpcTimeout. Never throws ManagementUnavailable: says why instead.
DeliveryLimits readDeliveryLimits(const BrokerOptions& broker, const std::vector<std::string>& queues);

}  // namespace logship::amqp
