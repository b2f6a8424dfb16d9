// logctl status's pure parts: the management API's URL, paths and documents, the Redis lease
// token, and --management-url validation.
#include <gtest/gtest.h>

#include "broker/amqp/management.hpp"
#include "broker/redis/keys.hpp"
#include "cli/common.hpp"
#include "core/broker_url.hpp"
#include "core/error.hpp"

using namespace logship;
using namespace logship::amqp;

TEST(ManagementUrl, Parses) {
  auto e = parseManagementUrl("http://mq.example:15672");
  EXPECT_FALSE(e.https);
  EXPECT_EQ(e.host, "mq.example");
  EXPECT_EQ(e.port, 15672);
  EXPECT_EQ(e.prefix, "");
  EXPECT_FALSE(e.derived);
  e = parseManagementUrl("https://mq.example/rabbitmq/");
  EXPECT_TRUE(e.https);
  EXPECT_EQ(e.port, 15671);
  EXPECT_EQ(e.prefix, "/rabbitmq");
  EXPECT_EQ(e.text(), "https://mq.example:15671/rabbitmq/");
  e = parseManagementUrl("http://[::1]:15695/");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 15695);
  EXPECT_EQ(e.text(), "http://[::1]:15695/");
  e = parseManagementUrl("http://127.0.0.1");
  EXPECT_EQ(e.port, 15672);
}

TEST(ManagementUrl, RefusesCredentialsAndJunk) {
  for (const char* bad :
       {"mq.example:15672", "ftp://mq", "http://", "http://:15672", "http://mq:", "http://mq:0", "http://mq:70000",
        "http://mq:12a", "http://[::1", "http://[::1]x", "http://mq/a?b", "http://mq/a#b", "http://mq /"}) {
    EXPECT_THROW(parseManagementUrl(bad), UsageError) << bad;
  }
  try {
    parseManagementUrl("http://guest:s3cret@mq:15672/");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << "never echo a password: " << e.what();
  }
}

TEST(ManagementUrl, DerivedFromTheBrokerUrl) {
  auto e = deriveManagementEndpoint(parseBrokerUrl("amqp://u:p@mq.example:5999/prod"));
  EXPECT_EQ(e.text(), "http://mq.example:15672/");
  EXPECT_TRUE(e.derived);
  e = deriveManagementEndpoint(parseBrokerUrl("amqps://u@[::1]/"));
  EXPECT_EQ(e.text(), "https://[::1]:15671/");
}

TEST(ManagementUrl, PathSegmentsArePercentEncoded) {
  EXPECT_EQ(encodePathSegment("/"), "%2F");
  EXPECT_EQ(encodePathSegment("logs_queue.dead"), "logs_queue.dead");
  EXPECT_EQ(encodePathSegment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
  EXPECT_EQ(encodePathSegment("caf\xc3\xa9"), "caf%C3%A9");
}

TEST(ManagementApi, OverviewListeners) {
  const char* doc = R"({"listeners":[{"node":"n","protocol":"amqp","ip_address":"127.0.0.1","port":5695},
                                     {"node":"n","protocol":"http","ip_address":"127.0.0.1","port":15695}]})";
  EXPECT_TRUE(overviewListensOn(doc, 5695));
  EXPECT_FALSE(overviewListensOn(doc, 15695));  // that is the http listener
  EXPECT_FALSE(overviewListensOn(doc, 5672));
  EXPECT_TRUE(overviewListensOn(R"({"listeners":[{"protocol":"amqp/ssl","port":5671}]})", 5671));
  EXPECT_FALSE(overviewListensOn("not json", 5672));
  EXPECT_FALSE(overviewListensOn("{}", 5672));
}

TEST(ManagementApi, QueueDocument) {
  QueueStats s;
  readQueueDocument(R"({"name":"q","consumers":2,"messages_ready":7,"messages_unacknowledged":5,
    "message_stats":{"publish":100,"publish_details":{"rate":12.5},"deliver_get":90,"deliver_get_details":{"rate":3.25}}})",
                    s);
  EXPECT_EQ(s.messagesReady, 7u);
  EXPECT_EQ(s.messagesUnacked, 5u);
  EXPECT_EQ(s.consumers, 2u);
  EXPECT_EQ(s.publishRate, 12.5);
  EXPECT_EQ(s.deliverRate, 3.25);
  QueueStats idle;
  readQueueDocument(R"({"name":"q","consumers":0,"messages_ready":0,"messages_unacknowledged":0})", idle);
  EXPECT_EQ(idle.publishRate, 0.0);  // no traffic since statistics started
  QueueStats noRates;
  readQueueDocument(R"({"consumers":0,"messages_ready":5,"messages_unacknowledged":0,"message_stats":{"publish":5}})",
                    noRates);
  EXPECT_FALSE(noRates.publishRate);  // counted but no rate (rates_mode none): unknown, not 0
  EXPECT_EQ(noRates.deliverRate, 0.0);
  QueueStats unsampled;  // a queue the statistics database has not sampled yet
  readQueueDocument(R"({"name":"q","consumers":0,"durable":true})", unsampled);
  EXPECT_FALSE(unsampled.messagesUnacked);
  EXPECT_FALSE(unsampled.publishRate);
  EXPECT_FALSE(unsampled.deliverRate);
  QueueStats bad;
  EXPECT_THROW(readQueueDocument("<html>", bad), ConnectionError);
}

// A quorum queue's delivery limit as RabbitMQ 3.10 applies it: the smaller of x-delivery-limit and
// the policies' delivery-limit (operator policies merged in effective_policy_definition).
TEST(ManagementApi, QuorumQueueDeliveryLimit) {
  auto read = [](const std::string& json) {
    QueueStats s;
    readQueueDocument(json, s);
    return s;
  };
  const auto arg = read(R"({"type":"quorum","arguments":{"x-queue-type":"quorum","x-delivery-limit":3},
    "policy":null,"operator_policy":null,"effective_policy_definition":{}})");
  EXPECT_EQ(arg.deliveryLimit, 3u);
  EXPECT_EQ(arg.deliveryLimitSource, "x-delivery-limit");
  EXPECT_TRUE(arg.policiesKnown);
  const auto policy = read(R"({"type":"quorum","arguments":{"x-delivery-limit":4},"policy":"qq",
    "operator_policy":null,"effective_policy_definition":{"delivery-limit":2}})");
  EXPECT_EQ(policy.deliveryLimit, 2u);
  EXPECT_EQ(policy.deliveryLimitSource, "policy 'qq'");
  const auto argWins = read(R"({"type":"quorum","arguments":{"x-delivery-limit":1},"policy":"qq",
    "operator_policy":"ops","effective_policy_definition":{"delivery-limit":2}})");
  EXPECT_EQ(argWins.deliveryLimit, 1u);
  EXPECT_EQ(argWins.deliveryLimitSource, "x-delivery-limit");
  const auto both = read(R"({"type":"quorum","arguments":{},"policy":"qq","operator_policy":"ops",
    "effective_policy_definition":{"delivery-limit":7}})");
  EXPECT_EQ(both.deliveryLimitSource, "policy 'qq' and operator policy 'ops'");
  // What the broker compares a count with: negative drops at the first return (0); a fraction as its
  // floor; a string never (Erlang's term order puts numbers below binaries).
  EXPECT_EQ(read(R"({"type":"quorum","arguments":{"x-delivery-limit":-1}})").deliveryLimit, 0u);
  EXPECT_EQ(read(R"({"type":"quorum","arguments":{"x-delivery-limit":2.5}})").deliveryLimit, 2u);
  EXPECT_FALSE(read(R"({"type":"quorum","arguments":{"x-delivery-limit":"3"}})").deliveryLimit);
  const auto none = read(R"({"type":"quorum","arguments":{"x-queue-type":"quorum"},"effective_policy_definition":[]})");
  EXPECT_FALSE(none.deliveryLimit);
  EXPECT_TRUE(none.policiesKnown);
  // Not sampled yet (a queue declared seconds ago): the argument is known, the policies not.
  const auto fresh = read(R"({"type":"quorum","arguments":{"x-delivery-limit":5}})");
  EXPECT_EQ(fresh.deliveryLimit, 5u);
  EXPECT_FALSE(fresh.policiesKnown);
  // Classic queues and streams ignore both.
  EXPECT_FALSE(read(R"({"type":"classic","arguments":{"x-delivery-limit":3}})").deliveryLimit);
  EXPECT_TRUE(read(R"({"type":"classic","arguments":{}})").policiesKnown);
}

TEST(RedisLease, TokenParts) {
  auto o = redis::parseLeaseToken("web-1 4242 00ff00ff00ff00ff 30000");
  EXPECT_EQ(o.host, "web-1");
  EXPECT_EQ(o.pid, 4242);
  EXPECT_EQ(o.ttlMs, 30000);
  o = redis::parseLeaseToken("web-1 4242 00ff00ff00ff00ff");  // an older aggregator: no TTL
  EXPECT_EQ(o.pid, 4242);
  EXPECT_EQ(o.ttlMs, 0);
  o = redis::parseLeaseToken("junk");
  EXPECT_EQ(o.host, "junk");
  EXPECT_EQ(o.pid, 0);
}

TEST(ResolveManagement, OffUrlAndRequireTls) {
  BrokerOptions amqp;
  amqp.url = parseBrokerUrl("amqp://localhost");
  EXPECT_FALSE(cli::resolveManagement("off", amqp, false).enabled);
  EXPECT_TRUE(cli::resolveManagement("", amqp, false).enabled);
  EXPECT_EQ(cli::resolveManagement("http://localhost:15999", amqp, false).url, "http://localhost:15999");
  EXPECT_TRUE(cli::resolveManagement("http://localhost:15999", amqp, true).requireTls);  // skipped when used
  EXPECT_NO_THROW(cli::resolveManagement("https://localhost:15999", amqp, true));
  EXPECT_THROW(cli::resolveManagement("localhost", amqp, false), UsageError);
  BrokerOptions redisBroker;
  redisBroker.url = parseBrokerUrl("redis://localhost");
  EXPECT_NO_THROW(cli::resolveManagement("http://localhost:15672", redisBroker, true));  // ignored
}
