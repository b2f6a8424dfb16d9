// logctl tail's broker side against the suite's private brokers: the declares (exchange, queue,
// binding), the routes of the three kinds of publishers, tail subscriptions over RabbitMQ and Redis,
// the tail's capped queue, and a queue deleted under a tail.
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "broker/amqp/topology.hpp"
#include "broker/factory.hpp"
#include "broker/redis/publisher.hpp"
#include "core/error.hpp"
#include "core/message.hpp"
#include "support.hpp"

using namespace logship;
using namespace logship::testing;
using namespace std::chrono_literals;

namespace {

// The lines `rabbitmqctl -q list_* ARGS` prints.
std::string rabbitmqctl(const std::string& args) {
  const std::string node = fmt::format("logship-{}@localhost", testBroker(Transport::Amqp).url.port);
  const std::string cmd = fmt::format("rabbitmqctl -q -n '{}' {} --no-table-headers 2>&1", node, args);
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

bool bound(const std::string& queue) {
  const std::string line = fmt::format("{}\t{}\t#\n", amqp::exchangeName(queue), queue);
  return rabbitmqctl("list_bindings source_name destination_name routing_key").find(line) != std::string::npos;
}

bool exchangeExists(const std::string& exchange) {
  return rabbitmqctl("list_exchanges name").find(exchange + "\n") != std::string::npos;
}

Message recordMessage(const std::string& service, Level level, const std::string& text, uint64_t id) {
  Record r;
  r.timestampUs = 1'700'000'000'000'000;
  r.service = service;
  r.level = level;
  r.host = "h";
  r.message = text;
  r.id = fmt::format("it-tail-{}", id);
  Message m;
  encodeRecord(r, m);
  return m;
}

std::string textOf(const Delivery& d) {
  Record r;
  std::string error;
  EXPECT_TRUE(decodeMessage(d.body, d.headers, 0, r, error)) << error;
  return r.message;
}

// Receives until `n` messages arrived or `limit` passed (a bound for a broken test, not a timing check).
std::vector<Delivery> receiveTail(TailSubscription& tail, size_t n, std::chrono::milliseconds limit = 10s) {
  std::vector<Delivery> got;
  const auto deadline = Clock::now() + limit;
  while (got.size() < n && Clock::now() < deadline) tail.receive(got, 200ms);
  return got;
}

// Takes every message of `queue` (acking them).
std::vector<Delivery> drain(const BrokerOptions& broker, const std::string& queue, size_t expect) {
  ConsumerOptions co;
  co.queue = queue;
  co.consumerId = "tail-test-drain";
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> got;
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    const size_t before = got.size();
    consumer->receive(got, 1000, got.size() >= expect ? 500ms : 1s);
    if (got.size() > before) consumer->ackUpTo(got.back().tag);
    if (got.size() == before && got.size() >= expect) break;
  }
  consumer->close();
  return got;
}

class EveryBrokerTail : public ::testing::TestWithParam<Transport> {};

}  // namespace

// New records reach the tail (filtered by the broker over RabbitMQ, all of them over Redis), the
// records aggregators send back and dead letters do not, and the queue gets every record.
TEST_P(EveryBrokerTail, SeesNewRecordsWhileTheQueueKeepsThemAll) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("tail_sees_" + transportName(GetParam()));
  makeAdmin(broker)->declareTopology(queue);
  TailOptions to;
  to.queue = queue;
  to.services = {"api"};
  to.minLevel = Level::Error;
  auto tail = makeTail(broker, to);

  auto live = makePublisher(broker, queue, PublishRoute::Live);
  auto direct = makePublisher(broker, queue, PublishRoute::Direct);
  auto dead = makePublisher(broker, deadLetterQueueName(queue), PublishRoute::DeadLetter);
  std::vector<Message> liveMessages;
  std::set<std::string> wanted;
  uint64_t id = 1;
  for (const std::string service : {"api", "web", "a.b"}) {
    for (Level level : {Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal}) {
      const std::string text = fmt::format("{} {}", service, levelName(level));
      liveMessages.push_back(recordMessage(service, level, text, id++));
      if (service == "api" && level >= Level::Error) wanted.insert(text);
    }
  }
  EXPECT_EQ(countConfirmed(publishAll(*live, liveMessages), true), liveMessages.size());
  EXPECT_EQ(countConfirmed(publishAll(*direct, {recordMessage("api", Level::Fatal, "sent back", id++)}), true), 1u);
  EXPECT_EQ(countConfirmed(publishAll(*dead, {recordMessage("api", Level::Fatal, "dead letter", id++)}), true), 1u);

  const size_t expectAtTail = GetParam() == Transport::Amqp ? wanted.size() : liveMessages.size();
  auto got = receiveTail(*tail, expectAtTail);
  std::vector<Delivery> more;
  tail->receive(more, 500ms);  // nothing else comes
  got.insert(got.end(), more.begin(), more.end());
  ASSERT_EQ(got.size(), expectAtTail);
  std::set<std::string> selected;
  for (const auto& d : got) {
    const std::string text = textOf(d);
    EXPECT_NE(text, "sent back");
    EXPECT_NE(text, "dead letter");
    if (wanted.count(text) != 0) selected.insert(text);
  }
  EXPECT_EQ(selected, wanted);

  EXPECT_EQ(drain(broker, queue, liveMessages.size() + 1).size(), liveMessages.size() + 1)
      << "the queue gets every new record and the one sent back";
  EXPECT_EQ(drain(broker, deadLetterQueueName(queue), 1).size(), 1u);
  deleteTopology(GetParam(), queue);
}

INSTANTIATE_TEST_SUITE_P(Brokers, EveryBrokerTail, ::testing::Values(Transport::Amqp, Transport::Redis),
                         [](const auto& p) { return transportName(p.param); });

TEST(AmqpTopology, EverythingThatDeclaresTheQueueBindsItToItsExchange) {
  const auto broker = testBroker(Transport::Amqp);
  std::vector<std::pair<std::string, std::function<void(const std::string&)>>> declarers = {
      {"live", [&](const std::string& q) { makePublisher(broker, q, PublishRoute::Live); }},
      {"direct", [&](const std::string& q) { makePublisher(broker, q, PublishRoute::Direct); }},
      {"consumer",
       [&](const std::string& q) {
         ConsumerOptions co;
         co.queue = q;
         makeConsumer(broker, co)->close();
       }},
      {"setup", [&](const std::string& q) { makeAdmin(broker)->declareTopology(q); }},
  };
  for (const auto& [name, declare] : declarers) {
    const auto queue = uniqueQueue("binds_" + name);
    declare(queue);
    declare(queue);  // idempotent
    EXPECT_TRUE(bound(queue)) << name << ": '" << queue << "' is not bound to '" << amqp::exchangeName(queue) << "'";
    deleteTopology(Transport::Amqp, queue);
  }
  const auto queue = uniqueQueue("binds_dead");
  makePublisher(broker, deadLetterQueueName(queue), PublishRoute::DeadLetter);
  EXPECT_FALSE(exchangeExists(amqp::exchangeName(deadLetterQueueName(queue)))) << "a dead-letter queue has no exchange";
  EXPECT_TRUE(makeAdmin(broker)->queueStats(deadLetterQueueName(queue)).exists);
  deleteTopology(Transport::Amqp, queue);
}

// An exchange that another program declared as fanout is used as it is (it routes every key): no
// 406, and the records reach the queue (docs/FORMATS.md, "Using existing queues").
TEST(AmqpTopology, AFanoutExchangeOfAnotherProgramIsUsedAsItIs) {
  const auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("fanout");
  const std::string exchange = amqp::exchangeName(queue);
  {
    auto conn = amqp::AmqpConnection::open(broker);
    amqp_exchange_declare(conn.get(), 1, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                          amqp_empty_table);
    conn.check(amqp_get_rpc_reply(conn.get()), "declaring a fanout exchange");
  }
  auto publisher = makePublisher(broker, queue, PublishRoute::Live);
  EXPECT_EQ(countConfirmed(publishAll(*publisher, recordMessages(3)), true), 3u);
  EXPECT_EQ(makeAdmin(broker)->queueStats(queue).messagesReady, 3u);
  deleteTopology(Transport::Amqp, queue);
}

TEST(AmqpTopology, ALivePublisherSurvivesItsExchangeBeingDeleted) {
  auto broker = testBroker(Transport::Amqp);
  broker.reconnectFor = 10s;
  const auto queue = uniqueQueue("exchange_deleted");
  auto publisher = makePublisher(broker, queue, PublishRoute::Live);
  EXPECT_EQ(countConfirmed(publishAll(*publisher, recordMessages(3)), true), 3u);
  deleteExchange(amqp::exchangeName(queue));  // the channel is closed 404 at the next publish
  EXPECT_EQ(countConfirmed(publishAll(*publisher, recordMessages(3)), true), 3u);
  EXPECT_TRUE(bound(queue)) << "declared again by the new connection";
  EXPECT_EQ(makeAdmin(broker)->queueStats(queue).messagesReady, 6u);
  deleteTopology(Transport::Amqp, queue);
}

TEST(AmqpTail, RefusesAQueueThatDoesNotExist) {
  TailOptions to;
  to.queue = uniqueQueue("tail_missing");
  try {
    makeTail(testBroker(Transport::Amqp), to);
    FAIL() << "tailed a missing queue";
  } catch (const BrokerRefusedError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(makeAdmin(testBroker(Transport::Amqp))->queueStats(to.queue).exists) << "tail declared it";
}

// A tail that reads nothing holds at most its prefetch delivered and maxBacklog ready: the broker
// drops the oldest beyond, and the queue still gets everything.
TEST(AmqpTail, ItsQueueIsCappedAndDropsTheOldest) {
  const auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("tail_capped");
  makeAdmin(broker)->declareTopology(queue);
  TailOptions to;
  to.queue = queue;
  to.maxBacklog = 10;
  to.prefetch = 1;
  auto tail = makeTail(broker, to);
  auto live = makePublisher(broker, queue, PublishRoute::Live);
  std::vector<Message> messages;
  for (uint64_t i = 0; i < 50; ++i) messages.push_back(recordMessage("svc", Level::Info, fmt::format("m{}", i), i));
  ASSERT_EQ(countConfirmed(publishAll(*live, messages), true), 50u);  // confirmed: enqueued (or dropped) everywhere
  std::vector<std::string> got;
  for (const auto& d : receiveTail(*tail, 11)) got.push_back(textOf(d));
  std::vector<Delivery> more;
  tail->receive(more, 500ms);
  EXPECT_TRUE(more.empty());
  std::vector<std::string> expected = {"m0"};  // delivered at once (prefetch 1), then 10 kept of 49
  for (int i = 40; i < 50; ++i) expected.push_back(fmt::format("m{}", i));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(makeAdmin(broker)->queueStats(queue).messagesReady, 50u);
  deleteTopology(Transport::Amqp, queue);
}

// The queue deleted under a running tail: records the tail's binding selects are confirmed to the
// producer although they reach only the tail. The tail declares the queue again and puts them back.
TEST(AmqpTail, PutsBackWhatReachedOnlyItWhenTheQueueIsDeleted) {
  auto broker = testBroker(Transport::Amqp);
  const auto queue = uniqueQueue("tail_rescue");
  makeAdmin(broker)->declareTopology(queue);
  TailOptions to;
  to.queue = queue;
  to.queueCheckInterval = 200ms;
  auto tail = makeTail(broker, to);
  auto live = makePublisher(broker, queue, PublishRoute::Live);
  std::vector<Message> before, after;
  for (uint64_t i = 0; i < 5; ++i) before.push_back(recordMessage("svc", Level::Info, fmt::format("before {}", i), i));
  for (uint64_t i = 5; i < 10; ++i) after.push_back(recordMessage("svc", Level::Info, fmt::format("after {}", i), i));
  ASSERT_EQ(countConfirmed(publishAll(*live, before), true), 5u);
  deleteQueue(queue);
  ASSERT_EQ(countConfirmed(publishAll(*live, after), true), 5u) << "routed to the tail's queue: confirmed";
  // The tail notices at its next check, declares the queue again and puts back what it got.
  std::vector<Delivery> shown;
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline) {
    tail->receive(shown, 200ms);
    const auto stats = makeAdmin(broker)->queueStats(queue);
    if (stats.exists && stats.messagesReady >= 5) break;
  }
  tail->receive(shown, 1s);  // the marker: what arrived before it is put back too (nothing here)
  EXPECT_EQ(shown.size(), 10u) << "the tail shows every record once";
  std::set<std::string> inQueue;
  for (const auto& d : drain(broker, queue, 5)) inQueue.insert(textOf(d));
  for (const auto& m : after) {
    EXPECT_EQ(inQueue.count(m.body), 1u) << "'" << m.body << "' was lost with the deleted queue";
  }
  for (const auto& text : inQueue) {
    EXPECT_TRUE(text.starts_with("after ") || text.starts_with("before ")) << text;
  }
  EXPECT_TRUE(bound(queue));
  deleteTopology(Transport::Amqp, queue);
}

// Redis: producers publish to the tail channel only while it has subscribers (asked once a second).
TEST(RedisTail, ThePublisherMirrorsOnlyWhileSomeoneSubscribes) {
  const auto broker = testBroker(Transport::Redis);
  const auto queue = uniqueQueue("tail_mirror");
  auto live = makePublisher(broker, queue, PublishRoute::Live);  // nobody subscribes yet
  std::vector<Message> first, second;
  for (uint64_t i = 0; i < 5; ++i) first.push_back(recordMessage("svc", Level::Info, fmt::format("unseen {}", i), i));
  for (uint64_t i = 5; i < 10; ++i) second.push_back(recordMessage("svc", Level::Info, fmt::format("seen {}", i), i));
  ASSERT_EQ(countConfirmed(publishAll(*live, first), true), 5u);
  TailOptions to;
  to.queue = queue;
  auto tail = makeTail(broker, to);
  // Once the check interval passed, the next push asks again (PUBSUB NUMSUB, pipelined before it);
  // the pushes after its reply are published to the tail channel.
  std::this_thread::sleep_for(redis::RedisPublisher::kSubscriberCheckInterval + 100ms);
  ASSERT_EQ(countConfirmed(publishAll(*live, {recordMessage("svc", Level::Info, "probe", 99)}), true), 1u);
  ASSERT_EQ(countConfirmed(publishAll(*live, second), true), 5u);
  std::vector<std::string> got;
  for (const auto& d : receiveTail(*tail, 5)) {
    if (textOf(d) != "probe") got.push_back(textOf(d));
  }
  std::vector<std::string> expected;
  for (const auto& m : second) expected.push_back(m.body);
  EXPECT_EQ(got, expected) << "the records pushed while nobody subscribed are not published";
  EXPECT_EQ(drain(broker, queue, 11).size(), 11u);
  deleteTopology(Transport::Redis, queue);
}
