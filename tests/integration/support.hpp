#pragma once
#include <cstdio>
// Helpers shared by the adapter integration tests (amqp_test.cpp, redis_test.cpp).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "broker/amqp/connection.hpp"
#include "broker/amqp/topology.hpp"
#include "broker/options.hpp"
#include "broker/publisher.hpp"
#include "broker/redis/connection.hpp"
#include "core/message.hpp"
#include "core/record.hpp"

namespace logship::testing {

using namespace std::chrono_literals;

enum class Transport { Amqp, Redis };
inline std::string transportName(Transport t) { return t == Transport::Amqp ? "amqp" : "redis"; }
inline void PrintTo(Transport t, std::ostream* os) { *os << transportName(t); }

inline std::string readFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error(path + " is missing: run through ctest (its fixtures)");
  return line;
}

// The suite's private brokers, started by the `rabbitmq` and `redis` CTest fixtures (tests/CMakeLists.txt
// bakes their addresses in).
inline BrokerOptions testBroker(Transport t) {
  BrokerOptions o;
  if (t == Transport::Amqp) {
    o.url = parseBrokerUrl(LOGSHIP_TEST_AMQP_URL);
  } else {
    const std::string dir = LOGSHIP_TEST_REDIS_DIR;
    o.url = parseBrokerUrl(fmt::format("redis://127.0.0.1:{}", readFirstLine(dir + "/port")));
    o.url.password = readFirstLine(dir + "/password");
    o.url.hasPassword = true;
  }
  o.retryFor = 2s;
  o.reconnectFor = 0s;  // the bare adapters; tests of the reconnecting decorators set it
  o.connectTimeout = 2s;
  o.clientName = "integration_tests";
  return o;
}

inline std::string uniqueQueue(const std::string& name) { return fmt::format("it_{}_{}", name, getpid()); }

inline void deleteQueue(const std::string& queue) {
  // scripts/rabbitmq-node.sh names its nodes after their AMQP port.
  const std::string node = fmt::format("logship-{}@localhost", testBroker(Transport::Amqp).url.port);
  const std::string cmd = fmt::format("rabbitmqctl -q -n '{}' delete_queue '{}' >/dev/null 2>&1", node, queue);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// Deletes an exchange (nothing if it does not exist).
inline void deleteExchange(const std::string& exchange) {
  auto conn = amqp::AmqpConnection::open(testBroker(Transport::Amqp));
  amqp_exchange_delete(conn.get(), 1, amqp_cstring_bytes(exchange.c_str()), 0);
  conn.check(amqp_get_rpc_reply(conn.get()), "deleting an exchange");
}

// The test broker for a test that closes its own connections: a client name only they carry
// ("LABEL-PID", for closeConnectionsOf) and 20 s to reconnect.
inline BrokerOptions closableTestBroker(Transport t, std::string_view label) {
  BrokerOptions o = testBroker(t);
  o.reconnectFor = std::chrono::seconds(20);
  o.clientName = fmt::format("{}-{}", label, ::getpid());
  return o;
}

// Closes, from the server side (as a broker restart does), the test broker's connections whose
// client name is `clientName` (BrokerOptions::clientName): only this test's, so that tests running
// in parallel on the same broker keep theirs. At least one must be open.
inline void closeConnectionsOf(Transport t, const std::string& clientName) {
  const std::string marker = clientName + "@";
  size_t closed = 0;
  std::string listing;
  if (t == Transport::Amqp) {
    const std::string node = fmt::format("logship-{}@localhost", testBroker(Transport::Amqp).url.port);
    const std::string list = fmt::format(
        "rabbitmqctl -q -n '{}' list_connections --no-table-headers pid client_properties 2>/dev/null", node);
    std::vector<std::string> names;
    if (FILE* p = ::popen(list.c_str(), "r")) {
      char line[8192];
      while (std::fgets(line, sizeof line, p) != nullptr) {
        const std::string_view l(line);
        listing += l;
        const auto tab = l.find('\t');
        if (tab != std::string_view::npos && l.find(marker, tab) != std::string_view::npos) {
          names.emplace_back(l.substr(0, tab));
        }
      }
      ::pclose(p);
    }
    for (const auto& name : names) {
      const std::string cmd =
          fmt::format("rabbitmqctl -q -n '{}' close_connection '{}' 'test: closing' >/dev/null 2>&1", node, name);
      if (std::system(cmd.c_str()) == 0) ++closed;
    }
  } else {
    auto conn = redis::RedisConnection::open(testBroker(t));
    auto reply = conn.request({"CLIENT", "LIST", "TYPE", "normal"}, "listing clients");
    const std::string list(reply->str, reply->len);
    size_t pos = 0;
    while (pos < list.size()) {
      const size_t end = std::min(list.find('\n', pos), list.size());
      const std::string_view l = std::string_view(list).substr(pos, end - pos);
      pos = end + 1;
      const auto name = l.find(" name=");
      if (name == std::string_view::npos || l.substr(name + 6, marker.size()) != marker || !l.starts_with("id="))
        continue;
      const std::string id(l.substr(3, l.find(' ') - 3));
      conn.request({"CLIENT", "KILL", "ID", id}, "killing a client");
      ++closed;
    }
  }
  ASSERT_GT(closed, 0u) << "no open connection named " << clientName << " in:\n" << listing;
}

// Deletes a queue, its dead-letter queue and (RabbitMQ) its exchange, or (Redis) every key of its
// consumers.
inline void deleteTopology(Transport t, const std::string& queue) {
  if (t == Transport::Amqp) {
    // Over AMQP: deleting what does not exist is no error (rabbitmqctl delete_queue fails).
    auto conn = amqp::AmqpConnection::open(testBroker(Transport::Amqp));
    for (const std::string& q : {queue, queue + ".dead"}) {
      amqp_queue_delete(conn.get(), 1, amqp_cstring_bytes(q.c_str()), 0, 0);
      conn.check(amqp_get_rpc_reply(conn.get()), "deleting a queue");
    }
    const std::string exchange = amqp::exchangeName(queue);
    amqp_exchange_delete(conn.get(), 1, amqp_cstring_bytes(exchange.c_str()), 0);
    conn.check(amqp_get_rpc_reply(conn.get()), "deleting an exchange");
    return;
  }
  auto conn = redis::RedisConnection::open(testBroker(t));
  for (const std::string& pattern : {queue, queue + ".*"}) {
    auto keys = conn.command({"KEYS", pattern}, "listing test keys");
    for (size_t i = 0; i < keys->elements; ++i) conn.command({"DEL", redis::replyText(*keys->element[i])}, "deleting");
  }
}

inline Record recordNumber(int i) {
  Record r;
  r.timestampUs = 1'700'000'000'000'000 + i;
  r.level = i % 2 == 0 ? Level::Info : Level::Error;
  r.service = "svc";
  r.host = "h";
  r.message = fmt::format("record {}", i);
  r.fields = {{"i", std::to_string(i)}};
  return r;
}

inline std::vector<Message> recordMessages(int n) {
  std::vector<Message> messages(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) encodeRecord(recordNumber(i), messages[static_cast<size_t>(i)]);
  return messages;
}

// Publishes and waits for every confirm; returns the outcomes.
inline std::vector<ConfirmRange> publishAll(Publisher& p, const std::vector<Message>& messages) {
  std::vector<ConfirmRange> confirms;
  for (const auto& m : messages) p.publish(m);
  p.awaitConfirms(0, Clock::now() + 10s, confirms);
  return confirms;
}

inline uint64_t countConfirmed(const std::vector<ConfirmRange>& confirms, bool ok) {
  uint64_t n = 0;
  for (const auto& c : confirms) {
    if (c.ok == ok) n += c.last - c.first + 1;
  }
  return n;
}

}  // namespace logship::testing
