#include "broker/amqp/management.hpp"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::amqp {
namespace {

std::string hostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect (refused, or no route)";
    case httplib::Error::ConnectionTimeout: return "the connection timed out";
    case httplib::Error::Read: return "no answer (read error or timeout)";
    case httplib::Error::Write: return "write error";
    case httplib::Error::SSLConnection: return "the TLS handshake failed (is it an https port?)";
    case httplib::Error::SSLServerVerification: return "its TLS certificate was not verified (see --tls-ca)";
    case httplib::Error::SSLLoadingCerts: return "cannot load the TLS certificates";
    default: return httplib::to_string(e);
  }
}

std::optional<double> rateOf(const nlohmann::json& stats, const char* key) {
  const auto details = stats.find(key);
  if (details == stats.end() || !details->is_object()) return std::nullopt;
  const auto rate = details->find("rate");
  if (rate == details->end() || !rate->is_number()) return std::nullopt;
  return rate->get<double>();
}

// Type, leader and members: a quorum queue (and a stream) has "leader" and "members"; a classic
// queue only its "node".
void readPlacement(const nlohmann::json& doc, QueueStats& stats) {
  auto text = [&](const char* key) -> std::optional<std::string> {
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  stats.type = text("type");
  stats.leader = text("leader");
  if (!stats.leader) stats.leader = text("node");
  stats.members.clear();
  if (const auto m = doc.find("members"); m != doc.end() && m->is_array()) {
    for (const auto& node : *m) {
      if (node.is_string()) stats.members.push_back(node.get<std::string>());
    }
  } else if (stats.leader) {
    stats.members.push_back(*stats.leader);
  }
}

// A delivery limit as RabbitMQ compares it with a message's count (count > limit drops it): an
// integer; a negative one drops at the first return, like 0; a fraction compares as its floor.
// Anything else never compares greater in Erlang's term order: no limit.
std::optional<uint32_t> limitValue(const nlohmann::json& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (d <= 0) return 0u;
  return static_cast<uint32_t>(std::min(std::floor(d), 4294967295.0));
}

// "policy 'p'", "operator policy 'o'", or both: where a delivery-limit policy comes from.
std::string policyNames(const nlohmann::json& doc) {
  std::string names;
  for (const auto& [key, what] : {std::pair{"policy", "policy"}, std::pair{"operator_policy", "operator policy"}}) {
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) continue;
    names += fmt::format("{}{} '{}'", names.empty() ? "" : " and ", what, escaped(it->get<std::string>()));
  }
  return names.empty() ? "a policy" : names;
}

// A quorum queue's limit: x-delivery-limit and the policies' delivery-limit (operator policies
// merged in by the broker: effective_policy_definition), the smaller wins, as RabbitMQ 3.10's
// rabbit_quorum_queue resolves it. Classic queues and streams have none.
void readDeliveryLimit(const nlohmann::json& doc, QueueStats& stats) {
  stats.deliveryLimit.reset();
  stats.deliveryLimitSource.clear();
  stats.policiesKnown = true;
  if (stats.type != "quorum") return;
  auto consider = [&](std::optional<uint32_t> limit, std::string source) {
    if (!limit || (stats.deliveryLimit && *stats.deliveryLimit <= *limit)) return;
    stats.deliveryLimit = limit;
    stats.deliveryLimitSource = std::move(source);
  };
  if (const auto args = doc.find("arguments"); args != doc.end() && args->is_object()) {
    if (const auto v = args->find("x-delivery-limit"); v != args->end()) consider(limitValue(*v), "x-delivery-limit");
  }
  const auto policy = doc.find("effective_policy_definition");
  stats.policiesKnown = policy != doc.end() && (policy->is_object() || policy->is_array());
  if (!stats.policiesKnown || !policy->is_object()) return;
  if (const auto v = policy->find("delivery-limit"); v != policy->end()) consider(limitValue(*v), policyNames(doc));
}

}  // namespace

std::string ManagementEndpoint::text() const {
  return fmt::format("{}://{}:{}{}/", https ? "https" : "http", hostForUrl(host), port, prefix);
}

ManagementEndpoint parseManagementUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return UsageError(fmt::format("--management-url: {} (expected http[s]://HOST[:PORT][/PREFIX])", why));
  };
  ManagementEndpoint e;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    e.https = true;
    e.port = 15671;
    rest = text.substr(8);
  } else {
    throw bad("the URL must start with http:// or https://");
  }
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) throw bad("a space or control character in the URL");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) throw bad("no query string or fragment, please");
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    throw bad(
        "put no user or password in it: the broker URL's user and password (--password-file, "
        "LOGSHIP_PASSWORD) are used");
  }
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    e.prefix = std::string(path);
  }
  std::string_view portText;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unclosed '[' in the host");
    e.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) throw bad("junk after the IPv6 address");
      portText = after.substr(1);
      if (portText.empty()) throw bad("empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
      if (portText.empty()) throw bad("empty port");
    }
  }
  if (e.host.empty()) throw bad("missing host");
  if (!portText.empty()) {
    unsigned port = 0;
    for (char c : portText) {
      if (c < '0' || c > '9' || port > 65535) throw bad("the port must be a number from 1 to 65535");
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) throw bad("the port must be a number from 1 to 65535");
    e.port = static_cast<uint16_t>(port);
  }
  return e;
}

ManagementEndpoint deriveManagementEndpoint(const BrokerUrl& broker) {
  ManagementEndpoint e;
  e.https = broker.scheme == BrokerUrl::Scheme::Amqps;
  e.port = e.https ? 15671 : 15672;
  e.host = broker.host;
  e.derived = true;
  return e;
}

std::string encodePathSegment(std::string_view segment) {
  std::string out;
  for (unsigned char c : segment) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool overviewListensOn(std::string_view overviewJson, uint16_t port) {
  const auto doc = nlohmann::json::parse(overviewJson, nullptr, false);
  if (!doc.is_object()) return false;
  const auto listeners = doc.find("listeners");
  if (listeners == doc.end() || !listeners->is_array()) return false;
  for (const auto& l : *listeners) {
    if (!l.is_object()) continue;
    const std::string protocol = l.value("protocol", "");
    const auto p = l.find("port");
    if ((protocol == "amqp" || protocol == "amqp/ssl") && p != l.end() && p->is_number_integer() &&
        p->get<int64_t>() == port) {
      return true;
    }
  }
  return false;
}

void readQueueDocument(std::string_view json, QueueStats& stats) {
  const auto doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object()) throw ConnectionError("the management API answered something that is not a JSON object");
  auto count = [&](const char* key) -> std::optional<uint64_t> {
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<uint64_t>();
  };
  if (auto v = count("messages_ready")) stats.messagesReady = *v;
  if (auto v = count("messages_unacknowledged")) stats.messagesUnacked = *v;
  if (auto v = count("consumers")) stats.consumers = static_cast<uint32_t>(*v);
  readPlacement(doc, stats);
  readDeliveryLimit(doc, stats);
  const auto ms = doc.find("message_stats");
  if (!count("messages_unacknowledged")) return;  // not sampled yet: no rates either
  if (ms == doc.end() || !ms->is_object()) {
    // No message was published to or delivered from the queue since the node collects statistics.
    stats.publishRate = 0.0;
    stats.deliverRate = 0.0;
  } else {
    stats.publishRate = rateOf(*ms, "publish_details");
    stats.deliverRate = rateOf(*ms, "deliver_get_details");
    if (!stats.publishRate && !ms->contains("publish")) stats.publishRate = 0.0;
    if (!stats.deliverRate && !ms->contains("deliver_get")) stats.deliverRate = 0.0;
  }
}

struct ManagementClient::Impl {
  httplib::Client client;
  explicit Impl(const std::string& base) : client(base) {}
  Impl(const std::string& base, const std::string& cert, const std::string& key) : client(base, cert, key) {}
};

ManagementClient::ManagementClient(ManagementEndpoint endpoint, const BrokerOptions& broker)
    : endpoint_(std::move(endpoint)), vhost_(broker.url.vhost), user_(broker.url.user), amqpPort_(broker.url.port) {
  const std::string base =
      fmt::format("{}://{}:{}", endpoint_.https ? "https" : "http", hostForUrl(endpoint_.host), endpoint_.port);
  impl_ = endpoint_.https && !broker.tls.certFile.empty()
              ? std::make_unique<Impl>(base, broker.tls.certFile, broker.tls.keyFile)
              : std::make_unique<Impl>(base);
  auto& c = impl_->client;
  const auto connect = std::chrono::duration_cast<std::chrono::microseconds>(broker.connectTimeout);
  const auto rpc = std::chrono::duration_cast<std::chrono::microseconds>(broker.rpcTimeout);
  c.set_connection_timeout(connect.count() / 1'000'000, connect.count() % 1'000'000);
  c.set_read_timeout(rpc.count() / 1'000'000, rpc.count() % 1'000'000);
  c.set_write_timeout(rpc.count() / 1'000'000, rpc.count() % 1'000'000);
  c.set_basic_auth(broker.url.user, broker.url.password);
  c.set_keep_alive(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (endpoint_.https) {
    if (!broker.tls.caFile.empty()) c.set_ca_cert_path(broker.tls.caFile);
    c.enable_server_certificate_verification(true);
  }
#endif
}

ManagementClient::~ManagementClient() = default;

std::optional<std::string> ManagementClient::get(const std::string& path) {
  const std::string where = endpoint_.text();
  auto res = impl_->client.Get(endpoint_.prefix + path);
  if (!res) {
    throw ManagementUnavailable(
        fmt::format("the management API at {} is unreachable: {}", where, describe(res.error())));
  }
  switch (res->status) {
    case 200: return res->body;
    case 404: return std::nullopt;
    case 401:
      throw ManagementUnavailable(
          fmt::format("the management API at {} refused user '{}' (401: wrong password, or "
                      "the user lacks the 'management' tag)",
                      where, escaped(user_)));
    default:
      throw ManagementUnavailable(
          fmt::format("the management API at {} answered HTTP {} to GET {}", where, res->status, escaped(path)));
  }
}

void ManagementClient::probe() {
  const auto overview = get("/api/overview");
  if (!overview)
    throw ManagementUnavailable(
        fmt::format("{} has no /api/overview: not a RabbitMQ management API", endpoint_.text()));
  if (endpoint_.derived && !overviewListensOn(*overview, amqpPort_)) {
    throw ManagementUnavailable(
        fmt::format("the management API at {} belongs to a node without an AMQP listener on port {} (another broker?); "
                    "give the right one with --management-url",
                    endpoint_.text(), amqpPort_));
  }
}

std::optional<QueueStats> ManagementClient::queue(const std::string& name) {
  const auto body = get(fmt::format("/api/queues/{}/{}", encodePathSegment(vhost_), encodePathSegment(name)));
  if (!body) return std::nullopt;
  QueueStats stats;
  stats.name = name;
  stats.exists = true;
  stats.source = StatsSource::ManagementApi;
  readQueueDocument(*body, stats);
  return stats;
}

std::unique_ptr<ManagementClient> openManagement(const BrokerOptions& broker) {
  // The URL was validated by the CLI; a derived one is checked against the node by probe().
  ManagementEndpoint endpoint =
      broker.management.url.empty() ? deriveManagementEndpoint(broker.url) : parseManagementUrl(broker.management.url);
  if (broker.management.requireTls && !endpoint.https) {
    throw ManagementUnavailable(
        fmt::format("--require-tls: not using the management API at {} (http:// would send "
                    "the password in clear text; give an https:// --management-url)",
                    endpoint.text()));
  }
  auto client = std::make_unique<ManagementClient>(std::move(endpoint), broker);
  client->probe();
  return client;
}

namespace {

// The queue's document, asked again (every 250 ms, for at most `patience`) while it is a quorum
// queue whose policies the API has not sampled yet.
std::optional<QueueStats> sampledQueue(ManagementClient& api, const std::string& name, const BrokerOptions& broker) {
  const auto deadline = Clock::now() + broker.rpcTimeout;
  std::optional<QueueStats> stats = api.queue(name);
  while (stats && !stats->policiesKnown && Clock::now() < deadline &&
         !(broker.stopRequested != nullptr && broker.stopRequested->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    stats = api.queue(name);
  }
  return stats;
}

}  // namespace

DeliveryLimits readDeliveryLimits(const BrokerOptions& broker, const std::vector<std::string>& queues) {
  DeliveryLimits limits;
  limits.asked = true;
  if (!broker.management.enabled) {
    limits.unavailable = "--management-url off";
    return limits;
  }
  try {
    const std::unique_ptr<ManagementClient> api = openManagement(broker);
    for (const std::string& name : queues) {
      std::optional<QueueStats> stats = sampledQueue(*api, name, broker);
      if (!stats) {
        limits.unavailable = fmt::format(
            "the management API at {} does not know queue '{}' (another node's API? "
            "see --management-url)",
            api->endpoint().text(), escaped(name));
        return limits;
      }
      limits.queues.push_back(std::move(*stats));
    }
  } catch (const ConnectionError& e) {
    limits.unavailable = e.what();
  }
  return limits;
}

}  // namespace logship::amqp
