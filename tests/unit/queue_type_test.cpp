// Queue types (--queue-type) and existing topologies: the arguments a missing queue is declared
// with, the checks of the flags, and reading an existing exchange's type from the broker's refusal.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/amqp/topology.hpp"
#include "broker/resolve.hpp"
#include "core/error.hpp"

using namespace logship;
using namespace logship::amqp;

namespace {

std::vector<std::string> describe(const std::vector<QueueArgument>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) out.push_back(a.key + "=" + (a.isText ? a.text : std::to_string(a.number)));
  return out;
}

BrokerOptions resolve(const std::string& type, const std::string& age = "", uint64_t bytes = 0,
                      const std::string& url = "amqp://guest:guest@localhost/") {
  BrokerSettings s;
  s.urls = url;
  s.queueType = type;
  s.streamMaxAge = age;
  s.streamMaxBytes = bytes;
  return resolveBrokerSettings(s);
}

std::string refusal(const std::string& type, const std::string& age = "", uint64_t bytes = 0,
                    const std::string& url = "amqp://guest:guest@localhost/") {
  try {
    resolve(type, age, bytes, url);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(QueueType, ClassicIsTheTutorialsDeclaration) {
  EXPECT_TRUE(queueArguments(QueueDeclaration{}).empty());
  EXPECT_EQ(resolve("classic").newQueues.type, QueueType::Classic);
}

TEST(QueueType, QuorumSpreadsItsLeaders) {
  QueueDeclaration d;
  d.type = QueueType::Quorum;
  EXPECT_EQ(describe(queueArguments(d)),
            (std::vector<std::string>{"x-queue-type=quorum", "x-queue-leader-locator=balanced"}));
}

TEST(QueueType, StreamCarriesItsRetention) {
  QueueDeclaration d;
  d.type = QueueType::Stream;
  EXPECT_EQ(describe(queueArguments(d)), (std::vector<std::string>{"x-queue-type=stream"}));
  d.streamMaxAge = "7D";
  d.streamMaxBytes = 1024ULL * 1024 * 1024;
  EXPECT_EQ(describe(queueArguments(d)),
            (std::vector<std::string>{"x-queue-type=stream", "x-max-age=7D", "x-max-length-bytes=1073741824"}));
  const BrokerOptions o = resolve("stream", "12h", 4096);
  EXPECT_EQ(o.newQueues.type, QueueType::Stream);
  EXPECT_EQ(o.newQueues.streamMaxAge, "12h");
  EXPECT_EQ(o.newQueues.streamMaxBytes, 4096u);
}

TEST(QueueType, StreamMaxAgeAsRabbitMqTakesIt) {
  for (const char* ok : {"7D", "1Y", "3M", "12h", "30m", "90s", "100000D"}) EXPECT_TRUE(validStreamMaxAge(ok)) << ok;
  for (const char* bad : {"", "D", "7", "7d", "0D", "7 D", "-1D", "1.5h", "7DD", "h12"}) {
    EXPECT_FALSE(validStreamMaxAge(bad)) << bad;
  }
}

TEST(QueueType, BadValuesAreOneLineNamingTheFlag) {
  EXPECT_EQ(refusal("mirrored"), "--queue-type: 'mirrored' is not a queue type: classic, quorum or stream");
  EXPECT_EQ(refusal("stream", "7x"),
            "--stream-max-age: '7x' is not an age as RabbitMQ takes it: a whole number and Y, M, D, h, m or s, like 7D "
            "or 12h (M is months, m minutes)");
  EXPECT_EQ(refusal("classic", "7D"), "--stream-max-age: only with --queue-type stream (a stream's retention)");
  EXPECT_EQ(refusal("quorum", "", 1024), "--stream-max-bytes: only with --queue-type stream (a stream's retention)");
  EXPECT_EQ(refusal("quorum", "", 0, "redis://localhost/"),
            "--queue-type quorum: RabbitMQ only (a Redis queue is a list)");
  EXPECT_EQ(refusal("classic", "", 0, "redis://localhost/"), "");
}

TEST(ExistingTopology, ExchangeTypeFromTheBrokersRefusal) {
  EXPECT_EQ(existingExchangeType("declaring exchange 'logs': broker closed the channel: PRECONDITION_FAILED - "
                                 "inequivalent arg 'type' for exchange 'logs' in vhost '/': received 'topic' but "
                                 "current is 'direct'"),
            "direct");
  EXPECT_EQ(existingExchangeType("PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'logs' in vhost '/': "
                                 "received 'true' but current is 'false'"),
            std::nullopt);
  EXPECT_EQ(existingExchangeType("inequivalent arg 'type' for exchange 'x': current is ''"), std::nullopt);
  EXPECT_TRUE(routesEveryKey("topic"));
  EXPECT_TRUE(routesEveryKey("fanout"));
  EXPECT_TRUE(routesEveryKey("headers"));
  EXPECT_FALSE(routesEveryKey("direct"));
  EXPECT_FALSE(routesEveryKey("x-consistent-hash"));
}
