// AMQP-only behaviour of the RabbitMQ adapter against the suite's private node (started by the
// `rabbitmq` CTest fixture). What every broker must do is in broker_test.cpp.
#include <malloc.h>
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
#include "support.hpp"

using namespace logship;
using namespace logship::testing;
using namespace std::chrono_literals;

TEST(Amqp, PrefetchBoundsUnackedDeliveriesAndUnackedOnesReturn) {
  const auto broker = testBroker(Transport::Amqp);
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
  deleteTopology(Transport::Amqp, queue);
}

TEST(Amqp, MessageToAMissingQueueIsReportedNotConfirmed) {
  const auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("returned");
  auto publisher = makePublisher(broker, queue);
  deleteQueue(queue);  // now nothing routes the publisher's messages
  const std::vector<Message> messages = recordMessages(3);
  const auto confirms = publishAll(*publisher, messages);
  EXPECT_EQ(countConfirmed(confirms, false), 3u);
  EXPECT_EQ(countConfirmed(confirms, true), 0u);
  ASSERT_FALSE(confirms.empty());
  EXPECT_NE(confirms.front().reason.find("NO_ROUTE"), std::string::npos) << confirms.front().reason;
  deleteExchange(amqp::exchangeName(queue));
}

TEST(Amqp, TheReconnectingPublisherDeclaresADeletedQueueAgainAndDelivers) {
  auto broker = testBroker(Transport::Amqp);
  broker.reconnectFor = 10s;
  const auto queue = uniqueQueue("redeclared");
  auto publisher = makePublisher(broker, queue);
  deleteQueue(queue);  // the adapter's messages come back NO_ROUTE; the decorator retries
  const auto confirms = publishAll(*publisher, recordMessages(3));
  EXPECT_EQ(countConfirmed(confirms, true), 3u);
  EXPECT_EQ(makeAdmin(broker)->queueStats(queue).messagesReady, 3u);
  deleteQueue(queue);  // a publisher declares only its own queue (and exchange)
  deleteExchange(amqp::exchangeName(queue));
}

namespace {

// Bytes the allocator has handed out and not had back (its arenas and its mmapped blocks).
size_t heapInUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// Publishes `n` messages one at a time, each confirmed before the next: one basic.ack frame each.
void publishEachConfirmed(Publisher& p, const Message& m, int n) {
  std::vector<ConfirmRange> confirms;
  for (int i = 0; i < n; ++i) {
    p.publish(m);
    p.awaitConfirms(0, Clock::now() + 30s, confirms);
    ASSERT_EQ(countConfirmed(confirms, true), 1u);
    confirms.clear();
  }
}

}  // namespace

// Issue 15: rabbitmq-c decodes every frame into a per-channel pool that grows until the client
// releases it, so a long-running producer grew by a 128 KiB page every few thousand confirms.
// Counted, not timed: the memory in use after 2N confirms is that after N, within a margin far below
// what the pool took before (about 34 bytes per confirm: 270 KB more after the second 8,000; now
// none).
TEST(Amqp, ConfirmsDoNotGrowThePublishersMemory) {
  const auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("confirm_memory");
  auto publisher = makePublisher(broker, queue);
  const Message message = recordMessages(1).front();
  publishEachConfirmed(*publisher, message, 8000);  // warms up every buffer
  const size_t before = heapInUse();
  publishEachConfirmed(*publisher, message, 8000);
  const size_t after = heapInUse();
  EXPECT_LT(after, before + 48 * 1024) << "in use: " << before << " bytes after 8,000 confirms, " << after
                                       << " after 16,000";
  deleteTopology(Transport::Amqp, queue);
}

TEST(Amqp, WrongPasswordIsRefusedAtOnce) {
  auto broker = testBroker(Transport::Amqp);
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
  auto broker = testBroker(Transport::Amqp);
  broker.url.vhost = "no-such-vhost";
  EXPECT_THROW(makeAdmin(broker), BrokerRefusedError);
}

TEST(Amqp, UnreachableBrokerFailsAfterTheRetryWindow) {
  auto broker = testBroker(Transport::Amqp);
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
  const auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("topology");
  auto admin = makeAdmin(broker);
  EXPECT_FALSE(admin->queueStats(queue).exists);
  admin->declareTopology(queue);
  admin->declareTopology(queue);
  EXPECT_TRUE(admin->queueStats(queue).exists);
  EXPECT_TRUE(admin->queueStats(deadLetterQueueName(queue)).exists);
  EXPECT_EQ(admin->queueStats(queue).consumers, 0u);
  deleteTopology(Transport::Amqp, queue);
}
