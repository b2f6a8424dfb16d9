// What every broker adapter must do, run against each of the suite's private brokers (RabbitMQ
// and Redis, started by the CTest fixtures): the pipeline is written once, so it is tested once.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aggregator/collector.hpp"
#include "broker/factory.hpp"
#include "core/error.hpp"
#include "core/message.hpp"
#include "support.hpp"

using namespace logship;
using namespace logship::testing;
using namespace std::chrono_literals;

class EveryBroker : public ::testing::TestWithParam<Transport> {};

TEST_P(EveryBroker, PublishedRecordsComeBackIntactAndAcked) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("roundtrip_" + transportName(GetParam()));
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
  deleteTopology(GetParam(), queue);
}


TEST_P(EveryBroker, CollectorWritesGoodRecordsDeadLettersBadOnesAndAcksAll) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("collector_" + transportName(GetParam()));
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
  deleteTopology(GetParam(), queue);
}

TEST_P(EveryBroker, ReconnectingPublisherAndConsumerSurviveClosedConnections) {
  auto broker = testBroker(GetParam());
  broker.reconnectFor = 20s;
  const auto queue = uniqueQueue("reconnect_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  const std::vector<Message> messages = recordMessages(200);
  std::vector<ConfirmRange> confirms;
  for (size_t i = 0; i < 100; ++i) publisher->publish(messages[i]);
  closeAllConnections(GetParam());  // some of the first 100 may be unconfirmed now
  for (size_t i = 100; i < 200; ++i) publisher->publish(messages[i]);
  publisher->awaitConfirms(0, Clock::now() + 20s, confirms);
  EXPECT_EQ(countConfirmed(confirms, true), 200u);
  EXPECT_EQ(countConfirmed(confirms, false), 0u);

  ConsumerOptions co;
  co.queue = queue;
  co.consumerId = "it-reconnect";
  auto consumer = makeConsumer(broker, co);
  std::set<std::string> seen;
  std::vector<Delivery> got;
  bool closed = false;
  const auto deadline = Clock::now() + 30s;
  while (seen.size() < 200 && Clock::now() < deadline) {
    got.clear();
    if (consumer->receive(got, 50, 500ms) == 0) continue;
    for (const auto& d : got) seen.insert(d.body);
    if (!closed) {
      closeAllConnections(GetParam());  // this batch's ack is lost: it comes again
      closed = true;
    }
    consumer->ackUpTo(got.back().tag);
  }
  EXPECT_EQ(seen.size(), 200u) << "every record, possibly some twice";
  consumer->close();
  deleteTopology(GetParam(), queue);
}

INSTANTIATE_TEST_SUITE_P(Brokers, EveryBroker, ::testing::Values(Transport::Amqp, Transport::Redis),
                         [](const auto& p) { return transportName(p.param); });
