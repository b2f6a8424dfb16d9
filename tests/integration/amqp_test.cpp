// The AMQP adapter and the collector against a real RabbitMQ node (the suite's private one:
// LOGSHIP_TEST_BROKER, started by the `rabbitmq` CTest fixture).
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aggregator/collector.hpp"
#include "broker/factory.hpp"
#include "core/error.hpp"
#include "core/message.hpp"

using namespace logship;
using namespace std::chrono_literals;

namespace {

BrokerOptions testBroker() {
  const char* url = std::getenv("LOGSHIP_TEST_BROKER");
  if (url == nullptr) throw std::runtime_error("LOGSHIP_TEST_BROKER is not set: run through ctest");
  BrokerOptions o;
  o.url = parseBrokerUrl(url);
  o.retryFor = 2s;
  o.connectTimeout = 2s;
  o.clientName = "integration_tests";
  return o;
}

std::string uniqueQueue(const std::string& name) { return fmt::format("it_{}_{}", name, getpid()); }

void deleteQueue(const std::string& queue) {
  // scripts/rabbitmq-node.sh names its nodes after their AMQP port.
  const std::string node = fmt::format("logship-{}@localhost", testBroker().url.port);
  const std::string cmd = fmt::format("rabbitmqctl -q -n '{}' delete_queue '{}' >/dev/null 2>&1", node, queue);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

void deleteTopology(const std::string& queue) {
  deleteQueue(queue);
  deleteQueue(deadLetterQueueName(queue));
}

Record recordNumber(int i) {
  Record r;
  r.timestampUs = 1'700'000'000'000'000 + i;
  r.level = i % 2 == 0 ? Level::Info : Level::Error;
  r.service = "svc";
  r.host = "h";
  r.message = fmt::format("record {}", i);
  r.fields = {{"i", std::to_string(i)}};
  return r;
}

std::vector<Message> recordMessages(int n) {
  std::vector<Message> messages(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) encodeRecord(recordNumber(i), messages[static_cast<size_t>(i)]);
  return messages;
}

// Publishes and waits for every confirm; returns the outcomes.
std::vector<ConfirmRange> publishAll(Publisher& p, const std::vector<Message>& messages) {
  std::vector<ConfirmRange> confirms;
  for (const auto& m : messages) p.publish(m);
  p.awaitConfirms(0, Clock::now() + 10s, confirms);
  return confirms;
}

uint64_t countConfirmed(const std::vector<ConfirmRange>& confirms, bool ok) {
  uint64_t n = 0;
  for (const auto& c : confirms) {
    if (c.ok == ok) n += c.last - c.first + 1;
  }
  return n;
}

}  // namespace

TEST(Amqp, PublishedRecordsComeBackIntactAndAcked) {
  const auto broker = testBroker();
  const auto queue = uniqueQueue("roundtrip");
  auto publisher = makePublisher(broker, queue);
  const std::vector<Message> messages = recordMessages(1000);
  const auto confirms = publishAll(*publisher, messages);
  EXPECT_EQ(countConfirmed(confirms, true), 1000u);
  EXPECT_EQ(publisher->unconfirmed(), 0u);

  ConsumerOptions co;
  co.queue = queue;
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> deliveries;
  while (deliveries.size() < 1000) {
    ASSERT_GT(consumer->receive(deliveries, 1000, 5s), 0u) << "stalled after " << deliveries.size();
    EXPECT_LE(deliveries.size(), 1000u);
    consumer->ackUpTo(deliveries.back().tag);  // prefetch (200) holds back the rest until we ack
  }
  for (int i = 0; i < 1000; ++i) {
    Record r;
    std::string error;
    ASSERT_TRUE(decodeMessage(deliveries[i].body, deliveries[i].headers, 0, r, error)) << error;
    EXPECT_EQ(r, recordNumber(i));
    EXPECT_FALSE(deliveries[i].redelivered);
  }
  consumer->close();
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  deleteTopology(queue);
}

TEST(Amqp, PrefetchBoundsUnackedDeliveriesAndUnackedOnesReturn) {
  const auto broker = testBroker();
  const auto queue = uniqueQueue("prefetch");
  auto publisher = makePublisher(broker, queue);
  const std::vector<Message> messages = recordMessages(50);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), 50u);

  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 5;
  {
    auto consumer = makeConsumer(broker, co);
    std::vector<Delivery> got;
    consumer->receive(got, 100, 2s);
    std::this_thread::sleep_for(300ms);
    consumer->receive(got, 100, 300ms);
    EXPECT_EQ(got.size(), 5u) << "prefetch 5 must cap unacked deliveries";
    consumer->close();  // nothing acked: all 5 go back
  }
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 50u);
  {
    auto consumer = makeConsumer(broker, co);
    std::vector<Delivery> got;
    consumer->receive(got, 100, 2s);
    ASSERT_FALSE(got.empty());
    EXPECT_TRUE(got.front().redelivered);
    consumer->close();
  }
  deleteTopology(queue);
}

TEST(Amqp, MessageToAMissingQueueIsReportedNotConfirmed) {
  const auto broker = testBroker();
  const auto queue = uniqueQueue("returned");
  auto publisher = makePublisher(broker, queue);
  deleteQueue(queue);  // now nothing routes the publisher's messages
  const std::vector<Message> messages = recordMessages(3);
  const auto confirms = publishAll(*publisher, messages);
  EXPECT_EQ(countConfirmed(confirms, false), 3u);
  EXPECT_EQ(countConfirmed(confirms, true), 0u);
  ASSERT_FALSE(confirms.empty());
  EXPECT_NE(confirms.front().reason.find("NO_ROUTE"), std::string::npos) << confirms.front().reason;
}

TEST(Amqp, WrongPasswordIsRefusedAtOnce) {
  auto broker = testBroker();
  broker.url.password = "definitely-wrong";
  broker.retryFor = 10s;
  const auto start = Clock::now();
  try {
    makePublisher(broker, uniqueQueue("auth"));
    FAIL() << "login with a wrong password succeeded";
  } catch (const BrokerRefusedError& e) {
    EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("definitely-wrong"), std::string::npos);
  }
  EXPECT_LT(Clock::now() - start, 5s) << "a refused login must not be retried";
}

TEST(Amqp, UnknownVhostIsRefused) {
  auto broker = testBroker();
  broker.url.vhost = "no-such-vhost";
  EXPECT_THROW(makeAdmin(broker), BrokerRefusedError);
}

TEST(Amqp, UnreachableBrokerFailsAfterTheRetryWindow) {
  auto broker = testBroker();
  broker.url.port = 1;  // nothing listens there
  broker.retryFor = 1500ms;
  const auto start = Clock::now();
  try {
    makeAdmin(broker);
    FAIL() << "connected to a closed port";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("Connection refused"), std::string::npos) << e.what();
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 1500ms);
  EXPECT_LT(elapsed, 10s);
}

TEST(Amqp, TopologyIsIdempotentAndInspectable) {
  const auto broker = testBroker();
  const auto queue = uniqueQueue("topology");
  auto admin = makeAdmin(broker);
  EXPECT_FALSE(admin->queueStats(queue).exists);
  admin->declareTopology(queue);
  admin->declareTopology(queue);
  EXPECT_TRUE(admin->queueStats(queue).exists);
  EXPECT_TRUE(admin->queueStats(deadLetterQueueName(queue)).exists);
  EXPECT_EQ(admin->queueStats(queue).consumers, 0u);
  deleteTopology(queue);
}

TEST(Collector, WritesGoodRecordsDeadLettersBadOnesAndAcksAll) {
  const auto broker = testBroker();
  const auto queue = uniqueQueue("collector");
  auto publisher = makePublisher(broker, queue);
  std::vector<Message> messages = recordMessages(100);
  Message badLevel;
  encodeRecord(recordNumber(1000), badLevel);
  for (auto& h : badLevel.headers) {
    if (h.key == "logship-level") h.value = "shouting";
  }
  messages.insert(messages.begin() + 50, badLevel);
  Message oversize;
  oversize.body = std::string(5000, 'z');
  messages.push_back(oversize);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), 102u);

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  {
    FileSink sink(output);
    ConsumerOptions co;
    co.queue = queue;
    auto consumer = makeConsumer(broker, co);
    CollectorOptions options;
    options.format = OutputFormat::Raw;
    options.maxMessageBytes = 1000;
    options.idleExit = 700ms;
    std::atomic<bool> stop{false};
    Collector collector(
        *consumer, sink, [&] { return makePublisher(broker, deadLetterQueueName(queue)); }, queue, options, stop);
    collector.run();
    consumer->close();
    EXPECT_EQ(collector.stats().received, 102u);
    EXPECT_EQ(collector.stats().written, 100u);
    EXPECT_EQ(collector.stats().deadLettered, 2u);
  }
  std::ifstream in(output);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line, fmt::format("record {}", n));
    ++n;
  }
  EXPECT_EQ(n, 100);
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  EXPECT_EQ(admin->queueStats(deadLetterQueueName(queue)).messagesReady, 2u);

  // The dead letters carry the reason.
  ConsumerOptions dco;
  dco.queue = deadLetterQueueName(queue);
  auto dead = makeConsumer(broker, dco);
  std::vector<Delivery> got;
  while (got.size() < 2) ASSERT_GT(dead->receive(got, 10, 5s), 0u);
  std::vector<std::string> reasons;
  for (const auto& d : got) {
    for (const auto& h : d.headers) {
      if (h.key == wire::kDeadReason) reasons.push_back(h.value);
    }
  }
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_NE(reasons[0].find("unknown level 'shouting'"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find("over the limit"), std::string::npos) << reasons[1];
  dead->close();
  deleteTopology(queue);
}
