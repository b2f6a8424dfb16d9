// Redis-only behaviour of the reliable-list adapter against the suite's private Redis server
// (started by the `redis` CTest fixture): processing lists, leases, recovery, order on requeue.
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "broker/factory.hpp"
#include "broker/redis/connection.hpp"
#include "broker/redis/envelope.hpp"
#include "broker/redis/keys.hpp"
#include "core/error.hpp"
#include "core/message.hpp"
#include "support.hpp"

using namespace logship;
using namespace logship::testing;
using namespace std::chrono_literals;

namespace {

class Redis : public ::testing::Test {
 protected:
  void SetUp() override {
    queue = uniqueQueue(::testing::UnitTest::GetInstance()->current_test_info()->name());
    keys = std::make_unique<redis::QueueKeys>(queue);
    broker = testBroker(Transport::Redis);
    conn = std::make_unique<redis::RedisConnection>(redis::RedisConnection::open(broker));
  }
  void TearDown() override { deleteTopology(Transport::Redis, queue); }

  ConsumerOptions consumerOptions(const std::string& id) {
    ConsumerOptions co;
    co.queue = queue;
    co.consumerId = id;
    co.leaseTtl = 1s;
    return co;
  }
  long long llen(const std::string& key) { return conn->command({"LLEN", key}, "LLEN")->integer; }
  std::vector<std::string> range(const std::string& key) {
    auto r = conn->command({"LRANGE", key, "0", "-1"}, "LRANGE");
    std::vector<std::string> out;
    for (size_t i = 0; i < r->elements; ++i) out.emplace_back(redis::replyText(*r->element[i]));
    return out;
  }
  void push(const std::string& key, int from, int to) {
    for (int i = from; i < to; ++i) conn->command({"RPUSH", key, fmt::format("r{}", i)}, "RPUSH");
  }
  // What a plain value looks like once it counts `n` failed deliveries (recoverScript()).
  static std::string counted(const std::string& body, int n) {
    return fmt::format("\xFFLS1 deliveries={}\n{}", n, body);
  }
  // Receives until `n` deliveries arrived (or 5 s passed); the size of each receive in `sizes`.
  std::vector<Delivery> receiveAll(Consumer& c, size_t n, std::vector<size_t>* sizes = nullptr) {
    std::vector<Delivery> got;
    const auto deadline = Clock::now() + 5s;
    while (got.size() < n && Clock::now() < deadline) {
      const size_t k = c.receive(got, 100, 200ms);
      if (k > 0 && sizes != nullptr) sizes->push_back(k);
    }
    return got;
  }

  std::string queue;
  std::unique_ptr<redis::QueueKeys> keys;
  BrokerOptions broker;
  std::unique_ptr<redis::RedisConnection> conn;
};

TEST_F(Redis, TakenRecordsWaitInTheProcessingListUntilAcked) {
  push(queue, 0, 10);
  auto consumer = makeConsumer(broker, consumerOptions("c1"));
  std::vector<Delivery> got;
  ASSERT_EQ(consumer->receive(got, 4, 1s), 4u);
  EXPECT_EQ(got[0].body, "r0");
  EXPECT_EQ(llen(queue), 6);
  EXPECT_EQ(llen(keys->processing("c1")), 4);
  consumer->ackUpTo(got[1].tag);
  EXPECT_EQ(range(keys->processing("c1")), (std::vector<std::string>{"r2", "r3"}));
  // Closing puts the unacked ones back at the head, in order, each counting one failed delivery
  // (a plain value is wrapped into an envelope that carries only the count).
  consumer->close();
  EXPECT_EQ(range(queue),
            (std::vector<std::string>{counted("r2", 1), counted("r3", 1), "r4", "r5", "r6", "r7", "r8", "r9"}));
  EXPECT_EQ(conn->command({"EXISTS", keys->lease("c1")}, "EXISTS")->integer, 0);
  EXPECT_EQ(conn->command({"SISMEMBER", keys->registry, "c1"}, "SISMEMBER")->integer, 0);
}

TEST_F(Redis, PrefetchCapsWhatOneConsumerHolds) {
  push(queue, 0, 50);
  auto co = consumerOptions("c1");
  co.prefetch = 5;
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> got;
  EXPECT_EQ(consumer->receive(got, 100, 1s), 5u);
  EXPECT_EQ(llen(keys->processing("c1")), 5);
}

TEST_F(Redis, ARestartUnderTheSameIdPutsLeftoversBackFirst) {
  // What a SIGKILLed run leaves behind: records in its processing list, a registry entry and a
  // lease held by a process of this host that no longer exists.
  push(keys->processing("host:/out.log"), 0, 3);
  push(queue, 3, 5);
  conn->command({"SADD", keys->registry, "host:/out.log"}, "SADD");
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  conn->command({"SET", keys->lease("host:/out.log"), fmt::format("{} 999999999 dead", host), "PX", "600000"}, "SET");
  auto consumer = makeConsumer(broker, consumerOptions("host:/out.log"));
  EXPECT_EQ(range(queue), (std::vector<std::string>{counted("r0", 1), counted("r1", 1), counted("r2", 1), "r3", "r4"}));
  // The put-back records failed once each: they come one at a time, then the others together.
  std::vector<size_t> sizes;
  const auto got = receiveAll(*consumer, 5, &sizes);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(sizes, (std::vector<size_t>{1, 1, 1, 2}));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[static_cast<size_t>(i)].body, fmt::format("r{}", i));
    EXPECT_EQ(got[static_cast<size_t>(i)].redelivered, i < 3) << i;
    EXPECT_EQ(recordedDeliveries(got[static_cast<size_t>(i)].headers), i < 3 ? 1u : 0u) << i;
    EXPECT_EQ(got[static_cast<size_t>(i)].unrecordedFailures, 0u) << "Redis records every failure in the record";
  }
}

TEST_F(Redis, ALiveConsumersLeaseIsRespectedAndADeadOnesListRecovered) {
  push(keys->processing("ghost"), 0, 3);
  conn->command({"SADD", keys->registry, "ghost"}, "SADD");
  conn->command({"SET", keys->lease("ghost"), "elsewhere 1 x", "PX", "1500"}, "SET");
  auto consumer = makeConsumer(broker, consumerOptions("live"));
  std::vector<Delivery> got;
  EXPECT_EQ(consumer->receive(got, 10, 200ms), 0u) << "the ghost's lease still lives";
  EXPECT_EQ(llen(keys->processing("ghost")), 3);
  // Once the lease expires, the next recovery pass (every max(ttl/2, 1 s)) puts the records back.
  const auto deadline = Clock::now() + 10s;
  while (got.size() < 3 && Clock::now() < deadline) consumer->receive(got, 10, 200ms);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, "r0");
  EXPECT_EQ(llen(keys->processing("ghost")), 0);
  EXPECT_EQ(conn->command({"SISMEMBER", keys->registry, "ghost"}, "SISMEMBER")->integer, 0);
}

TEST_F(Redis, AdminRecoversOnDemandAndReportsLiveConsumers) {
  push(keys->processing("dead"), 0, 2);
  push(keys->processing("unregistered"), 2, 3);  // found by SCAN
  conn->command({"SADD", keys->registry, "dead", "alive"}, "SADD");
  conn->command({"SET", keys->lease("alive"), "h 1 x", "PX", "60000"}, "SET");
  push(keys->processing("alive"), 3, 4);
  auto admin = makeAdmin(broker);
  const auto stats = admin->queueStats(queue);
  EXPECT_TRUE(stats.exists);
  EXPECT_EQ(stats.consumers, 1u);
  ASSERT_TRUE(stats.messagesUnacked.has_value());
  EXPECT_EQ(*stats.messagesUnacked, 4u);  // dead (2) + alive (1) + the unregistered one SCAN finds (1)
  const auto result = admin->recoverAbandoned(queue);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->size(), 3u);
  uint64_t recovered = 0;
  for (const auto& c : *result) {
    EXPECT_EQ(c.alive, c.consumerId == "alive") << c.consumerId;
    recovered += c.recovered;
  }
  EXPECT_EQ(recovered, 3u);
  EXPECT_EQ(llen(queue), 3);
  EXPECT_EQ(llen(keys->processing("alive")), 1);
}

TEST_F(Redis, ASecondConsumerTakingOurIdStopsTheFirst) {
  push(queue, 0, 4);
  auto first = makeConsumer(broker, consumerOptions("same"));
  std::vector<Delivery> got;
  ASSERT_EQ(first->receive(got, 2, 1s), 2u);
  // Same process: the holder is not a running log_aggregator, so the second one takes over.
  auto second = makeConsumer(broker, consumerOptions("same"));
  EXPECT_THROW(first->ackUpTo(got.back().tag), BrokerRefusedError);
  const auto got2 = receiveAll(*second, 4);
  ASSERT_EQ(got2.size(), 4u) << "the first one's records were put back for the new owner";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(got2[static_cast<size_t>(i)].body, fmt::format("r{}", i));
  EXPECT_TRUE(got2[0].redelivered && got2[1].redelivered) << "the first one's two count a failed delivery";
}

// A lease taken by a process of this host that is gone (SIGKILLed: its lease lives on until it
// expires) is dead for `logctl status` and `logctl recover`, as for the aggregator taking its id.
TEST_F(Redis, AdminTreatsALeaseOfAGoneProcessOfThisHostAsDead) {
  push(keys->processing("killed"), 0, 2);
  conn->command({"SADD", keys->registry, "killed", "remote"}, "SADD");
  const std::string host = localHostName();
  conn->command({"SET", keys->lease("killed"), fmt::format("{} 999999999 dead 30000", host), "PX", "60000"}, "SET");
  // Another host's pid means nothing here: only its lease's expiry tells.
  conn->command({"SET", keys->lease("remote"), "elsewhere 999999999 x 30000", "PX", "60000"}, "SET");
  push(keys->processing("remote"), 2, 3);
  auto admin = makeAdmin(broker);
  const auto stats = admin->queueStats(queue);
  EXPECT_EQ(stats.consumers, 1u) << "only the other host's consumer may be alive";
  ASSERT_EQ(stats.processing.size(), 2u);
  for (const auto& p : stats.processing) {
    EXPECT_EQ(p.alive, p.consumerId == "remote") << p.consumerId;
    EXPECT_EQ(p.ownerGone, p.consumerId == "killed") << p.consumerId;
  }
  const auto result = admin->recoverAbandoned(queue);
  ASSERT_TRUE(result.has_value());
  for (const auto& c : *result) {
    EXPECT_EQ(c.alive, c.consumerId == "remote") << c.consumerId;
    EXPECT_EQ(c.recovered, c.consumerId == "killed" ? 2u : 0u) << c.consumerId;
  }
  EXPECT_EQ(range(queue), (std::vector<std::string>{counted("r0", 1), counted("r1", 1)}));
  EXPECT_EQ(conn->command({"EXISTS", keys->lease("killed")}, "EXISTS")->integer, 0);
  EXPECT_EQ(conn->command({"EXISTS", keys->lease("remote")}, "EXISTS")->integer, 1);
}

// A consumer made again in the same process (the reconnect after a Redis restart that kept the
// lease) finds its own earlier lease: it renews it and never calls its own process gone.
TEST_F(Redis, AReconnectRenewsOurOwnLeaseWithoutCallingUsGone) {
  auto log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  spdlog::default_logger()->sinks().push_back(log);
  auto first = makeConsumer(broker, consumerOptions("again"));
  auto second = makeConsumer(broker, consumerOptions("again"));
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::find(sinks.begin(), sinks.end(), log));
  bool renewed = false;
  for (const std::string& line : log->last_formatted()) {
    EXPECT_EQ(line.find("which is gone"), std::string::npos) << line;
    renewed = renewed || line.find("still had our lease from before we reconnected") != std::string::npos;
  }
  EXPECT_TRUE(renewed) << "it says what it did";
}

// recoverScript() counts a failed delivery in each record it puts back, and the C++ reader
// (decodeEnvelope + recordedDeliveries) reads back exactly that count.
TEST_F(Redis, PuttingRecordsBackCountsAFailedDeliveryInEach) {
  Message withHeaders;
  withHeaders.body = "body with\nline feeds";
  withHeaders.headers = {{"logship-version", "1"}, {"logship-id", "abc-1"}, {"x-trace", "t 1"}};
  std::string enveloped;
  redis::encodeEnvelope(withHeaders, enveloped);
  const std::vector<std::string> values = {
      "plain text",                                 // wrapped: count 1
      enveloped,                                    // item added first: count 1
      "\xFFLS1 version=1 deliveries=4 id=x\nfour",  // incremented in place: 5
      "\xFFLS1\nno items",                          // item added: 1
      "\xFFLS1 deliveries=abc\nnot a count",        // not digits: starts again, 1
      "\xFFLS1 deliveries=999999999\nsaturated",    // stays at the largest count
      "\xFFLS9\nunknown version",                   // unreadable: unchanged
      "\xFFLS1 no line feed",                       // unreadable: unchanged
  };
  for (const auto& v : values) conn->command({"RPUSH", keys->processing("dead"), v}, "RPUSH");
  conn->command({"SADD", keys->registry, "dead"}, "SADD");
  auto admin = makeAdmin(broker);
  const auto result = admin->recoverAbandoned(queue);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ(result->front().recovered, values.size());
  const auto back = range(queue);
  ASSERT_EQ(back.size(), values.size());
  EXPECT_EQ(back[0], counted("plain text", 1));
  EXPECT_EQ(back[1], "\xFFLS1 deliveries=1" + enveloped.substr(4));
  EXPECT_EQ(back[2], "\xFFLS1 version=1 deliveries=5 id=x\nfour");
  EXPECT_EQ(back[3], counted("no items", 1));
  EXPECT_EQ(back[4], counted("not a count", 1));
  EXPECT_EQ(back[5], values[5]);
  EXPECT_EQ(back[6], values[6]);
  EXPECT_EQ(back[7], values[7]);

  const std::vector<uint32_t> counts = {1, 1, 5, 1, 1, 999'999'999};
  for (size_t i = 0; i < counts.size(); ++i) {
    std::string body;
    std::vector<Header> headers;
    std::string error;
    ASSERT_TRUE(redis::decodeEnvelope(back[i], body, headers, error)) << i << ": " << error;
    EXPECT_EQ(recordedDeliveries(headers), counts[i]) << i;
  }
  std::string body;
  std::vector<Header> headers;
  std::string error;
  ASSERT_TRUE(redis::decodeEnvelope(back[1], body, headers, error)) << error;
  EXPECT_EQ(body, withHeaders.body);
  auto expected = withHeaders.headers;
  expected.insert(expected.begin(), Header{"logship-deliveries", "1"});
  ASSERT_EQ(headers.size(), expected.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    EXPECT_EQ(headers[i].key, expected[i].key);
    EXPECT_EQ(headers[i].value, expected[i].value);
  }
}

// A record that failed before is taken on its own: nothing else is in the processing list with it.
TEST_F(Redis, ARecordThatFailedBeforeIsTakenAlone) {
  const std::vector<std::string> values = {"a", "b", counted("s1", 1), "c", "d", counted("s2", 3), counted("s3", 1)};
  for (const auto& v : values) conn->command({"RPUSH", queue, v}, "RPUSH");
  auto consumer = makeConsumer(broker, consumerOptions("alone"));
  std::vector<std::vector<std::string>> takes;
  for (int i = 0; i < 5; ++i) {
    std::vector<Delivery> got;
    ASSERT_GT(consumer->receive(got, 100, 1s), 0u) << "take " << i;
    takes.emplace_back();
    for (const auto& d : got) takes.back().push_back(d.body);
    EXPECT_EQ(llen(keys->processing("alone")), static_cast<long long>(got.size())) << "only this take is held";
    consumer->ackUpTo(got.back().tag);
  }
  EXPECT_EQ(takes, (std::vector<std::vector<std::string>>{{"a", "b"}, {"s1"}, {"c", "d"}, {"s2"}, {"s3"}}));
  EXPECT_EQ(llen(queue), 0);
}

// A value whose body is over ConsumerOptions::maxBodyBytes is moved to the dead list by the take
// script, inside Redis, whole: the consumer hands on only its size, and it holds no place in the
// processing list, so acks trim exactly the others. The limit is on the body, not the header line.
TEST_F(Redis, AValueOverTheLimitIsDeadLetteredInsideRedisAndTakesNoPlaceInTheProcessingList) {
  const std::string big(100, 'B');
  Message m;
  m.body = big;
  m.headers = {{"x-trace", "t 1"}, {std::string(wire::kDeliveries), "2"}};
  std::string envelope;
  redis::encodeEnvelope(m, envelope);
  m.body = "small body";
  m.headers = {{"x-long", std::string(200, 'h')}};
  std::string longHeader;
  redis::encodeEnvelope(m, longHeader);
  for (const auto& v :
       {std::string("a"), envelope, std::string("b"), std::string(100, 'P'), std::string("c"), longHeader}) {
    conn->command({"RPUSH", queue, v}, "RPUSH");
  }
  ConsumerOptions co = consumerOptions("big");
  co.maxBodyBytes = 64;
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> got = receiveAll(*consumer, 6);
  ASSERT_EQ(got.size(), 6u);
  for (size_t i : {1u, 3u}) {
    EXPECT_TRUE(got[i].movedToDeadLetters) << i;
    EXPECT_EQ(got[i].droppedBodySize, 100u) << i;
    EXPECT_TRUE(got[i].body.empty()) << i;
  }
  EXPECT_EQ(got[5].body, "small body");
  EXPECT_FALSE(got[5].movedToDeadLetters);
  EXPECT_EQ(range(keys->processing("big")), (std::vector<std::string>{"a", "b", "c", longHeader}));
  const auto dead = range(deadLetterQueueName(queue));
  ASSERT_EQ(dead.size(), 2u);
  const std::string reason = tooLargeReason(100, 64, OversizeBody::KeptInRedis);
  std::string body;
  std::vector<Header> headers;
  std::string error;
  ASSERT_TRUE(redis::decodeEnvelope(dead[0], body, headers, error)) << error;
  EXPECT_EQ(body, big);
  ASSERT_EQ(headers.size(), 3u) << "deliveries dropped";
  EXPECT_EQ(headers[0].value, "t 1");
  EXPECT_EQ(headers[1].key, wire::kDeadReason);
  EXPECT_EQ(headers[1].value, reason);
  EXPECT_EQ(headers[2].key, wire::kDeadQueue);
  EXPECT_EQ(headers[2].value, queue);
  ASSERT_TRUE(redis::decodeEnvelope(dead[1], body, headers, error)) << error;
  EXPECT_EQ(body, std::string(100, 'P'));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].value, reason);
  consumer->ackUpTo(got[3].tag);
  EXPECT_EQ(range(keys->processing("big")), (std::vector<std::string>{"c", longHeader}));
  consumer->ackUpTo(got[5].tag);
  EXPECT_EQ(llen(keys->processing("big")), 0);
  EXPECT_EQ(llen(queue), 0);
}

TEST_F(Redis, KeysOfAnotherTypeAreRefused) {
  conn->command({"SET", queue, "not a list"}, "SET");
  EXPECT_THROW(makePublisher(broker, queue), BrokerRefusedError);
  EXPECT_THROW(makeConsumer(broker, consumerOptions("c")), BrokerRefusedError);
  EXPECT_THROW(makeAdmin(broker)->declareTopology(queue), BrokerRefusedError);
}

TEST_F(Redis, WrongAndMissingPasswordsAreRefusedWithoutRetrying) {
  auto wrong = broker;
  wrong.url.password = "definitely-wrong";
  wrong.retryFor = 30s;
  const auto start = Clock::now();
  try {
    makePublisher(wrong, queue);
    FAIL() << "no error";
  } catch (const BrokerRefusedError& e) {
    EXPECT_NE(std::string(e.what()).find("WRONGPASS"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("definitely-wrong"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 5s) << "a refusal is not retried";
  auto none = broker;
  none.url.password.clear();
  try {
    makeAdmin(none);
    FAIL() << "no error";
  } catch (const BrokerRefusedError& e) {
    EXPECT_NE(std::string(e.what()).find("NOAUTH"), std::string::npos) << e.what();
  }
}

TEST_F(Redis, PublisherPipelinesAndConfirmsInOrder) {
  auto publisher = makePublisher(broker, queue);
  std::vector<Message> messages(2000);
  for (size_t i = 0; i < messages.size(); ++i) messages[i].body = fmt::format("m{}", i);
  const auto confirms = publishAll(*publisher, messages);
  EXPECT_EQ(countConfirmed(confirms, true), 2000u);
  // The ranges name exactly the sequence numbers publish() returned: 1 to 2000, in order.
  ASSERT_FALSE(confirms.empty());
  EXPECT_EQ(confirms.front().first, 1u);
  EXPECT_EQ(confirms.back().last, 2000u);
  for (size_t i = 1; i < confirms.size(); ++i) EXPECT_EQ(confirms[i].first, confirms[i - 1].last + 1);
  EXPECT_EQ(countConfirmed(confirms, false), 0u);
  EXPECT_EQ(publisher->unconfirmed(), 0u);
  const auto all = range(queue);
  ASSERT_EQ(all.size(), 2000u);
  EXPECT_EQ(all[0], "m0");
  EXPECT_EQ(all[1999], "m1999");  // header-less messages travel as the bare text
}

}  // namespace
