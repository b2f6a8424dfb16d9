// What every broker adapter must do, run against each of the suite's private brokers (RabbitMQ
// and Redis, started by the CTest fixtures): the pipeline is written once, so it is tested once.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aggregator/collector.hpp"
#include "aggregator/id_journal.hpp"
#include "aggregator/redelivery.hpp"
#include "aggregator/route.hpp"
#include "aggregator/router.hpp"
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
    Router router(sink);
    ConsumerOptions co;
    co.queue = queue;
    auto consumer = makeConsumer(broker, co);
    CollectorOptions options;
    options.format = OutputFormat::Raw;
    options.maxMessageBytes = 1000;
    options.idleExit = 700ms;
    std::atomic<bool> stop{false};
    Collector collector(
        *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
        queue, options, stop);
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
  const auto broker = closableTestBroker(GetParam(), "it-closing");  // only these connections are closed
  const auto queue = uniqueQueue("reconnect_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  const std::vector<Message> messages = recordMessages(200);
  std::vector<ConfirmRange> confirms;
  for (size_t i = 0; i < 100; ++i) publisher->publish(messages[i]);
  closeConnectionsOf(GetParam(), broker.clientName);  // some of the first 100 may be unconfirmed now
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
      closeConnectionsOf(GetParam(), broker.clientName);  // this batch's ack is lost: it comes again
      closed = true;
    }
    consumer->ackUpTo(got.back().tag);
  }
  EXPECT_EQ(seen.size(), 200u) << "every record, possibly some twice";
  consumer->close();
  deleteTopology(GetParam(), queue);
}

TEST_P(EveryBroker, AConsumerHoldingItsAcksBackGetsNoMoreThanItsPrefetchAndStaysAlive) {
  auto broker = testBroker(GetParam());
  broker.heartbeat = 1s;  // RabbitMQ drops a client silent for about two heartbeats
  const auto queue = uniqueQueue("holding_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, recordMessages(50)), true), 50u);
  publisher.reset();
  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 5;
  co.leaseTtl = 1s;  // Redis: the lease must be renewed while we hold
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> got;
  const auto until = Clock::now() + 4s;
  while (Clock::now() < until) {
    consumer->receive(got, 100, 200ms);
    ASSERT_LE(got.size(), 5u);
  }
  EXPECT_EQ(got.size(), 5u);
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).consumers, 1u) << "the consumer's connection (or lease) was lost";
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 45u);
  consumer->ackUpTo(got.back().tag);
  std::vector<Delivery> more;
  while (more.empty()) ASSERT_GT(consumer->receive(more, 100, 5s), 0u);
  EXPECT_LE(more.size(), 5u);
  EXPECT_FALSE(more.front().redelivered);
  consumer->close();
  deleteTopology(GetParam(), queue);
}

namespace {

// Limits every file this process writes to `limit` bytes (SIGXFSZ ignored, so a write over it
// fails with EFBIG), as a full disk would; lift() restores the old limit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    oldHandler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = old_;
    lowered.rlim_cur = limit;
    ::setrlimit(RLIMIT_FSIZE, &lowered);
  }
  ~FileSizeLimit() {
    lift();
    ::signal(SIGXFSZ, oldHandler_);
  }
  void lift() { ::setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
  sighandler_t oldHandler_ = SIG_DFL;
};

off_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

std::vector<std::string> fileLines(const std::string& path, std::string* partial = nullptr) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(all.substr(start, nl - start));
  }
  if (partial != nullptr) *partial = all.substr(start);
  return lines;
}

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

// The producer's Shipper and the reconnecting publisher share each message in flight: the publisher
// keeps the caller's message for resending (not a copy), sends it again after a lost connection, and
// lets go of it once it is confirmed.
TEST_P(EveryBroker, ReconnectingPublisherKeepsTheSharedMessageUntilConfirmed) {
  const auto broker = closableTestBroker(GetParam(), "it-shared");  // only these connections are closed
  const auto queue = uniqueQueue("shared_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  std::vector<std::shared_ptr<const Message>> shared;
  for (Message& m : recordMessages(100)) shared.push_back(std::make_shared<const Message>(std::move(m)));
  for (size_t i = 0; i < 50; ++i) publisher->publishShared(shared[i]);
  // Nothing is settled before awaitConfirms: each message is held twice, by us and by the publisher.
  for (size_t i = 0; i < 50; ++i) ASSERT_EQ(shared[i].use_count(), 2) << i;
  closeConnectionsOf(GetParam(), broker.clientName);  // the first 50 are sent again from the same objects
  for (size_t i = 50; i < 100; ++i) publisher->publishShared(shared[i]);
  std::vector<ConfirmRange> confirms;
  publisher->awaitConfirms(0, Clock::now() + 20s, confirms);
  EXPECT_EQ(countConfirmed(confirms, true), 100u);
  for (size_t i = 0; i < shared.size(); ++i) EXPECT_EQ(shared[i].use_count(), 1) << "still held: " << i;
  auto admin = makeAdmin(broker);
  EXPECT_TRUE(waitFor([&] { return admin->queueStats(queue).messagesReady >= 100; }, 10s))
      << "every message in the queue (some possibly twice)";
  deleteTopology(GetParam(), queue);
}

// The output stops taking data in the middle of a line (RLIMIT_FSIZE, like a full disk): the
// collector acks only what is in the file, holds the rest while keeping its connection (AMQP
// heartbeats of 1 s) or lease (1 s) alive, and writes everything exactly once when it can again.
TEST_P(EveryBroker, CollectorHoldsWhatItCannotWriteAndResumesWhenItCan) {
  auto broker = testBroker(GetParam());
  broker.heartbeat = 1s;
  const auto queue = uniqueQueue("unwritable_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, recordMessages(300)), true), 300u);
  publisher.reset();  // it would miss its heartbeats meanwhile

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 50;
  co.leaseTtl = 1s;
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.idleExit = 1500ms;
  options.pollInterval = 100ms;
  options.writeRetryDelay = 100ms;
  options.writeRetryDelayMax = 400ms;
  std::atomic<bool> stop{false};
  FileSink sink(output);
  Router router(sink);
  Collector collector(
      *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
      queue, options, stop);

  constexpr off_t kLimit = 1000;  // "record N\n" lines of 9 to 11 bytes: cut in the middle of one
  FileSizeLimit limit(kLimit);
  uint64_t readyWhileHeld = 0;
  uint32_t consumersWhileHeld = 0;
  size_t linesWhileHeld = 0;
  std::string partialWhileHeld;
  std::thread outage([&] {
    waitFor([&] { return fileSize(output) == kLimit; }, 10s);
    std::this_thread::sleep_for(5s);  // RabbitMQ drops a client silent for 3 heartbeats; 5 lease TTLs
    auto admin = makeAdmin(broker);
    const auto stats = admin->queueStats(queue);
    readyWhileHeld = stats.messagesReady;
    consumersWhileHeld = stats.consumers;
    linesWhileHeld = fileLines(output, &partialWhileHeld).size();
    limit.lift();
  });
  std::string runError;
  try {
    collector.run();
  } catch (const std::exception& e) {
    runError = e.what();
  }
  outage.join();

  EXPECT_EQ(runError, "");
  EXPECT_EQ(consumersWhileHeld, 1u) << "the connection (or lease) was lost while holding";
  EXPECT_FALSE(partialWhileHeld.empty()) << "the limit should have cut a line";
  // At most the prefetch is held; everything else stayed in the queue.
  EXPECT_GE(readyWhileHeld + linesWhileHeld + 50, 300u);
  EXPECT_GE(collector.stats().writeErrors, 1u);
  EXPECT_EQ(collector.stats().written, 300u);
  EXPECT_EQ(collector.stats().redelivered, 0u);
  std::string partial;
  const auto lines = fileLines(output, &partial);
  EXPECT_EQ(partial, "");
  ASSERT_EQ(lines.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(lines[static_cast<size_t>(i)], fmt::format("record {}", i));
  consumer->close();
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  deleteTopology(GetParam(), queue);
}

// Stopped while the output is still unwritable: run() throws, the lines in the file are whole,
// and every record that is not in it is back in the queue (none acked, none lost).
TEST_P(EveryBroker, CollectorStoppedWhileHoldingAcksNothingUnwrittenAndThrows) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("stopheld_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, recordMessages(300)), true), 300u);

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 50;
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.pollInterval = 100ms;
  std::atomic<bool> stop{false};
  std::string error;
  {
    FileSink sink(output);
    Router router(sink);
    Collector collector(
        *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
        queue, options, stop);
    FileSizeLimit limit(1000);
    std::thread stopper([&] {
      waitFor([&] { return fileSize(output) == 1000; }, 10s);
      std::this_thread::sleep_for(1s);
      stop = true;
    });
    try {
      collector.run();
    } catch (const std::exception& e) {
      error = e.what();
    }
    stopper.join();
  }
  EXPECT_NE(error.find("stopped with "), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  consumer->close();
  std::string partial;
  const auto lines = fileLines(output, &partial);
  EXPECT_EQ(partial, "") << "the cut line's fragment is cut off the file again";
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i], fmt::format("record {}", i));
  auto admin = makeAdmin(broker);
  EXPECT_TRUE(waitFor([&] { return admin->queueStats(queue).messagesReady == 300 - lines.size(); }, 5s))
      << admin->queueStats(queue).messagesReady << " ready, " << lines.size() << " lines written";
  deleteTopology(GetParam(), queue);
}

TEST_P(EveryBroker, CollectorGivesUpAfterWriteRetryFor) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("giveup_" + transportName(GetParam()));
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, recordMessages(100)), true), 100u);
  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  ConsumerOptions co;
  co.queue = queue;
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.writeRetryDelay = 100ms;
  options.writeRetryFor = 700ms;
  std::atomic<bool> stop{false};
  std::string error;
  const auto start = Clock::now();
  {
    FileSink sink(output);
    Router router(sink);
    Collector collector(
        *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
        queue, options, stop);
    FileSizeLimit limit(500);
    try {
      collector.run();
    } catch (const SinkError& e) {
      error = e.what();
    }
  }
  const auto took = Clock::now() - start;
  EXPECT_NE(error.find("gave up after"), std::string::npos) << error;
  EXPECT_GE(took, 700ms);
  EXPECT_LT(took, 5s);
  consumer->close();
  const auto lines = fileLines(output);
  auto admin = makeAdmin(broker);
  EXPECT_TRUE(waitFor([&] { return admin->queueStats(queue).messagesReady == 100 - lines.size(); }, 5s));
  deleteTopology(GetParam(), queue);
}

// Records whose ids are "dedup-<i>" (the producer's numbering; a resend carries the same id).
std::vector<Message> idMessages(const std::vector<int>& numbers) {
  std::vector<Message> messages;
  for (int i : numbers) {
    Record r = recordNumber(i);
    r.id = fmt::format("dedup-{}", i);
    messages.emplace_back();
    encodeRecord(r, messages.back());
  }
  return messages;
}

CollectorStats collectWithDedup(const BrokerOptions& broker, const std::string& queue, const std::string& output) {
  FileSink sink(output);
  Router router(sink);
  sink.enableDedup(IdJournalOptions{});
  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 50;
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.idleExit = 700ms;
  options.maxBatch = 40;
  std::atomic<bool> stop{false};
  Collector collector(
      *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
      queue, options, stop);
  collector.run();
  consumer->close();
  return collector.stats();
}

// Resends (the same id again, in the same batch or a later one, or on a later run) are acked and
// not written again; records without an id are never deduplicated.
TEST_P(EveryBroker, CollectorWritesEachRecordIdOnce) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("dedup_" + transportName(GetParam()));
  std::vector<int> numbers;
  for (int i = 0; i < 200; ++i) {
    numbers.push_back(i);
    if (i % 2 == 1) numbers.push_back(i - 1);                 // right behind: same batch
    if (i % 10 == 9 && i >= 100) numbers.push_back(i - 100);  // far behind: an earlier batch
  }
  auto messages = idMessages(numbers);
  std::vector<Message> plain = recordMessages(1);  // no id: written both times
  messages.push_back(plain[0]);
  messages.push_back(plain[0]);
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), messages.size());

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  std::remove((output + ".ids").c_str());
  auto stats = collectWithDedup(broker, queue, output);
  EXPECT_EQ(stats.received, messages.size());
  EXPECT_EQ(stats.written, 202u);
  EXPECT_EQ(stats.duplicates, messages.size() - 202);
  // A later run on the same output: everything it gets again is a duplicate.
  ASSERT_EQ(countConfirmed(publishAll(*publisher, idMessages({5, 150, 199})), true), 3u);
  stats = collectWithDedup(broker, queue, output);
  EXPECT_EQ(stats.written, 0u);
  EXPECT_EQ(stats.duplicates, 3u);

  std::string partial;
  const auto lines = fileLines(output, &partial);
  EXPECT_EQ(partial, "");
  ASSERT_EQ(lines.size(), 202u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(lines[static_cast<size_t>(i)], fmt::format("record {}", i));
  EXPECT_EQ(lines[200], "record 0");
  EXPECT_EQ(lines[201], "record 0");
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  deleteTopology(GetParam(), queue);
}

// Routing (aggregator/router.hpp): records 0-199 one per message, 200-299 in batches of 10; odd
// ones (odd batches) are errors, and every other pair (pair of batches) is service "web". Routes:
// level>=error (150 records) and service=web (140). Before the run, a previous aggregator had
// written the errors 1-39 to the errors file (and journaled them) and then died before the
// default output and the ack: the run writes them to the default output and to web, not again to
// errors. Every file then holds each of its records exactly once; a second delivery of everything
// writes nothing. With unrouted-only the default output gets only what no route matched.
namespace {

Record routedRecord(int i) {
  const int group = i < 200 ? i : 200 + (i - 200) / 10 * 10;  // a batch shares its first record's metadata
  const int k = i < 200 ? group : (group - 200) / 10;
  Record r = recordNumber(i);
  r.level = k % 2 == 1 ? Level::Error : Level::Info;
  r.service = (k / 2) % 2 == 1 ? "web" : "api";
  r.id = fmt::format("route-{}", i);
  return r;
}

std::vector<Message> routedMessages() {
  std::vector<Message> messages;
  for (int i = 0; i < 200; ++i) encodeRecord(routedRecord(i), messages.emplace_back());
  BatchBuilder batch;
  for (int b = 0; b < 10; ++b) {
    batch.start(routedRecord(200 + b * 10));
    for (int i = 1; i < 10; ++i) batch.add(fmt::format("record {}", 200 + b * 10 + i), 1'700'000'000'000'000 + i);
    batch.finish(messages.emplace_back());
  }
  return messages;
}

struct RouteRun {
  CollectorStats stats;
  std::vector<uint64_t> lines;  // per output
};

RouteRun collectRouted(const BrokerOptions& broker, const std::string& queue, const std::string& dir,
                       bool unroutedOnly) {
  std::vector<std::unique_ptr<FileSink>> sinks;
  for (const char* name : {"all.log", "errors.log", "web.log"}) {
    sinks.push_back(std::make_unique<FileSink>(dir + "/" + name));
    sinks.back()->enableDedup(IdJournalOptions{});
  }
  Router router(*sinks[0], unroutedOnly);
  router.addRoute(parseRouteRule("level>=error:errors.log"), *sinks[1]);
  router.addRoute(parseRouteRule("service=web:web.log"), *sinks[2]);
  ConsumerOptions co;
  co.queue = queue;
  co.prefetch = 50;
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.idleExit = 700ms;
  options.maxBatch = 40;
  std::atomic<bool> stop{false};
  Collector collector(
      *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
      queue, options, stop);
  collector.run();
  consumer->close();
  RouteRun run{collector.stats(), {}};
  for (size_t i = 0; i < router.size(); ++i) run.lines.push_back(router.output(i).linesWritten.value());
  return run;
}

std::vector<std::string> expectedLines(const std::function<bool(const Record&)>& keep, int firstError = 0) {
  std::vector<std::string> lines;
  for (int i = 0; i < 300; ++i) {
    if (i < firstError) continue;
    if (keep(routedRecord(i))) lines.push_back(fmt::format("record {}", i));
  }
  return lines;
}

}  // namespace

TEST_P(EveryBroker, CollectorRoutesEveryRecordToEachMatchingFileOnce) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("route_" + transportName(GetParam()));
  const std::string dir = ::testing::TempDir() + "/" + queue;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto isError = [](const Record& r) { return r.level >= Level::Error; };
  auto isWeb = [](const Record& r) { return r.service == "web"; };
  const size_t errors = expectedLines(isError).size();
  const size_t web = expectedLines(isWeb).size();
  const size_t neither = expectedLines([&](const Record& r) { return !isError(r) && !isWeb(r); }).size();
  ASSERT_EQ(errors, 150u);
  ASSERT_EQ(web, 140u);
  ASSERT_EQ(neither, 80u);
  {
    // The previous run's write to the errors file: the errors 1, 3, ..., 39.
    FileSink errorsFile(dir + "/errors.log");
    errorsFile.enableDedup(IdJournalOptions{});
    for (int i = 1; i < 40; i += 2) {
      errorsFile.append(fmt::format("record {}\n", i));
      errorsFile.journal()->add(fmt::format("route-{}", i), errorsFile.pendingBytes());
    }
    errorsFile.flush(false);
  }
  auto publisher = makePublisher(broker, queue);
  const std::vector<Message> messages = routedMessages();
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), messages.size());

  RouteRun run = collectRouted(broker, queue, dir, false);
  EXPECT_EQ(run.stats.received, messages.size());
  EXPECT_EQ(run.stats.written, 300u) << "each record counted once, however many files it went to";
  EXPECT_EQ(run.stats.duplicates, 0u);
  EXPECT_EQ(run.lines, (std::vector<uint64_t>{300, errors - 20, web})) << "errors 1-39 were in errors.log already";
  std::string partial;
  EXPECT_EQ(fileLines(dir + "/all.log", &partial), expectedLines([](const Record&) { return true; }));
  EXPECT_EQ(partial, "");
  std::vector<std::string> errorsBefore;
  for (int i = 1; i < 40; i += 2) errorsBefore.push_back(fmt::format("record {}", i));
  std::vector<std::string> errorsAfter = expectedLines(isError, 40);
  errorsBefore.insert(errorsBefore.end(), errorsAfter.begin(), errorsAfter.end());
  EXPECT_EQ(fileLines(dir + "/errors.log", &partial), errorsBefore);
  EXPECT_EQ(partial, "");
  EXPECT_EQ(fileLines(dir + "/web.log", &partial), expectedLines(isWeb));
  EXPECT_EQ(partial, "");

  // Everything again (a redelivery of all of it): every file has every record; nothing is written.
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), messages.size());
  run = collectRouted(broker, queue, dir, false);
  EXPECT_EQ(run.stats.written, 0u);
  EXPECT_EQ(run.stats.duplicates, 300u);
  EXPECT_EQ(run.lines, (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(fileLines(dir + "/all.log").size(), 300u);
  EXPECT_EQ(fileLines(dir + "/errors.log").size(), errors);
  EXPECT_EQ(fileLines(dir + "/web.log").size(), web);

  // --unrouted-only, on fresh files: the default output gets only the info records of api.
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), messages.size());
  run = collectRouted(broker, queue, dir, true);
  EXPECT_EQ(run.stats.written, 300u);
  EXPECT_EQ(run.lines, (std::vector<uint64_t>{neither, errors, web}));
  EXPECT_EQ(fileLines(dir + "/all.log"), expectedLines([&](const Record& r) { return !isError(r) && !isWeb(r); }));
  EXPECT_EQ(fileLines(dir + "/errors.log"), expectedLines(isError));
  EXPECT_EQ(fileLines(dir + "/web.log"), expectedLines(isWeb));
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  std::filesystem::remove_all(dir);
  deleteTopology(GetParam(), queue);
}

// A previous aggregator wrote records 0-59, journaled 60-69 and died while writing them (the output
// ends in the middle of record 62's line); it acked nothing, so the broker gives all 100 again.
// Restarted on the same output, the collector cuts the torn line, skips what is in the file, and
// the file holds every record exactly once.
TEST_P(EveryBroker, CollectorRestartedAfterACrashMidWriteWritesEveryRecordOnce) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("dedupcrash_" + transportName(GetParam()));
  std::vector<int> numbers;
  for (int i = 0; i < 100; ++i) numbers.push_back(i);
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, idMessages(numbers)), true), 100u);

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  std::remove((output + ".ids").c_str());
  {
    FileSink sink(output);
    sink.enableDedup(IdJournalOptions{});
    for (int i = 0; i < 60; ++i) {
      sink.append(fmt::format("record {}\n", i));
      sink.journal()->add(fmt::format("dedup-{}", i), sink.pendingBytes());
    }
    sink.flush(false);
  }
  {
    // What FileSink::flush does for the next batch, up to the crash.
    const int fd = ::open(output.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    IdJournal journal(output + ".ids", output, fd, IdJournalOptions{});
    std::string batch;
    for (int i = 60; i < 70; ++i) {
      batch += fmt::format("record {}\n", i);
      journal.add(fmt::format("dedup-{}", i), batch.size());
    }
    journal.beforeWrite(st.st_dev, st.st_ino, st.st_size, 0, batch.size());
    const size_t torn = batch.find("record 62") + 4;
    ASSERT_EQ(::write(fd, batch.data(), torn), static_cast<ssize_t>(torn));
    ::close(fd);
  }

  const auto stats = collectWithDedup(broker, queue, output);
  EXPECT_EQ(stats.written, 38u);     // 62 to 99
  EXPECT_EQ(stats.duplicates, 62u);  // 0 to 61 were complete in the file
  std::string partial;
  const auto lines = fileLines(output, &partial);
  EXPECT_EQ(partial, "");
  ASSERT_EQ(lines.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lines[static_cast<size_t>(i)], fmt::format("record {}", i));
  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  deleteTopology(GetParam(), queue);
}

// A record whose message carries `failures` in logship-deliveries (what aggregators that died
// holding it would have left), id "poison-<i>".
Message failedRecord(int i, int failures) {
  Record r = recordNumber(i);
  r.id = fmt::format("poison-{}", i);
  Message m;
  encodeRecord(r, m);
  if (failures > 0) setRecordedDeliveries(m.headers, static_cast<uint32_t>(failures));
  return m;
}

// Whether `out` is `in` cut into consecutive runs, each with its first element moved to its end:
// how the collector sends back the redeliveries of each batch it received (the oldest last). How
// the broker's pushes fall into receive batches is timing, so the runs are not known in advance.
bool rotatedRuns(const std::vector<std::string>& in, const std::vector<std::string>& out) {
  if (in.size() != out.size()) return false;
  std::vector<bool> cut(in.size() + 1, false);  // cut[i]: out[0, i) is in[0, i) in rotated runs
  cut[0] = true;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!cut[i]) continue;
    for (size_t len = 1; i + len <= in.size(); ++len) {
      bool match = out[i + len - 1] == in[i];
      for (size_t k = 1; match && k < len; ++k) match = out[i + k - 1] == in[i + k];
      if (match) cut[i + len] = true;
    }
  }
  return cut[in.size()];
}

// One failed delivery of everything in `queue` (n records): taken and never acked, then the
// consumer goes away, as when its aggregator dies.
void failOnce(const BrokerOptions& broker, const std::string& queue, size_t n) {
  ConsumerOptions co;
  co.queue = queue;
  co.consumerId = "it-fails";
  auto consumer = makeConsumer(broker, co);
  std::vector<Delivery> got;
  const auto deadline = Clock::now() + 10s;
  while (got.size() < n && Clock::now() < deadline) consumer->receive(got, 100, 200ms);
  ASSERT_EQ(got.size(), n);
  consumer->close();
}

// Poison messages: one more failed delivery of records that already failed 4 (P) and 3 (Q) times,
// and of 10 fresh ones. With --max-deliveries 5, P is dead-lettered with the reason; every other
// record is written exactly once. Over RabbitMQ the redeliveries are first sent back to the queue
// with their failure recorded (the oldest one last), over Redis the put-back already counted them;
// either way each record that failed before is then written on its own.
TEST_P(EveryBroker, CollectorDeadLettersARecordOnceItsDeliveriesFailedMaxDeliveriesTimes) {
  const auto broker = testBroker(GetParam());
  const bool amqp = GetParam() == Transport::Amqp;
  const auto queue = uniqueQueue("poison_" + transportName(GetParam()));
  std::vector<Message> messages;
  for (int i = 0; i < 5; ++i) messages.push_back(failedRecord(i, 0));
  messages.push_back(failedRecord(100, 4));  // P
  for (int i = 5; i < 10; ++i) messages.push_back(failedRecord(i, 0));
  messages.push_back(failedRecord(101, 3));  // Q
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), messages.size());
  failOnce(broker, queue, messages.size());

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  std::remove((output + ".ids").c_str());
  CollectorStats stats;
  {
    FileSink sink(output);
    Router router(sink);
    sink.enableDedup(IdJournalOptions{});
    ConsumerOptions co;
    co.queue = queue;
    auto consumer = makeConsumer(broker, co);
    CollectorOptions options;
    options.format = OutputFormat::Raw;
    options.idleExit = 700ms;
    ASSERT_EQ(options.maxDeliveries, 5u) << "the default";
    std::atomic<bool> stop{false};
    Collector collector(
        *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
        queue, options, stop);
    collector.run();
    consumer->close();
    stats = collector.stats();
  }
  EXPECT_EQ(stats.written, 11u);
  EXPECT_EQ(stats.deadLettered, 1u);
  EXPECT_EQ(stats.poison, 1u);
  EXPECT_EQ(stats.duplicates, 0u);
  EXPECT_EQ(stats.redelivered, 12u);
  EXPECT_EQ(stats.recounted, amqp ? 11u : 0u);
  EXPECT_EQ(stats.received, amqp ? 23u : 12u) << "over RabbitMQ the 11 copies come back";

  std::string partial;
  const auto lines = fileLines(output, &partial);
  EXPECT_EQ(partial, "");
  std::vector<std::string> inOrder;
  for (int i : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 101}) inOrder.push_back(fmt::format("record {}", i));
  if (amqp) {
    // The copies went back batch by batch, each batch in order with its oldest last (usually one
    // batch: 1 ... 9, 101, 0).
    EXPECT_TRUE(rotatedRuns(inOrder, lines)) << ::testing::PrintToString(lines);
    EXPECT_NE(lines, inOrder) << "the oldest redelivery of a batch goes back last";
  } else {
    EXPECT_EQ(lines, inOrder) << "put back in order, each taken and written alone";
  }

  auto admin = makeAdmin(broker);
  EXPECT_EQ(admin->queueStats(queue).messagesReady, 0u);
  ConsumerOptions dco;
  dco.queue = deadLetterQueueName(queue);
  dco.consumerId = "it-dead";
  auto dead = makeConsumer(broker, dco);
  std::vector<Delivery> got;
  const auto deadline = Clock::now() + 5s;
  while (got.empty() && Clock::now() < deadline) dead->receive(got, 10, 200ms);
  std::this_thread::sleep_for(200ms);
  dead->receive(got, 10, 200ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "record 100");
  std::map<std::string, std::string> h;
  for (const auto& x : got[0].headers) h[x.key] = x.value;
  EXPECT_EQ(h[std::string(wire::kDeadReason)], poisonReason(5));
  EXPECT_EQ(h[std::string(wire::kDeadReason)],
            "delivered 5 times without being written (the aggregator crashed or lost its connection each time)");
  EXPECT_EQ(h[std::string(wire::kDeadQueue)], queue);
  EXPECT_EQ(h[std::string(wire::kId)], "poison-100");
  EXPECT_EQ(h.count(std::string(wire::kDeliveries)), 0u) << "moved back, a dead letter starts a fresh count";
  Record r;
  std::string error;
  ASSERT_TRUE(decodeMessage(got[0].body, got[0].headers, 0, r, error)) << error;
  EXPECT_EQ(r.message, "record 100");
  dead->ackUpTo(got.back().tag);
  dead->close();
  deleteTopology(GetParam(), queue);
}

// While the collector holds a record that failed before (its line cannot be written), it takes
// nothing more: if it is killed now, no other record shares the record's failed delivery.
TEST_P(EveryBroker, CollectorHoldingARecordThatFailedBeforeTakesNothingMore) {
  const auto broker = testBroker(GetParam());
  const auto queue = uniqueQueue("suspect_" + transportName(GetParam()));
  Message suspect;
  suspect.body = std::string(5000, 's');
  setRecordedDeliveries(suspect.headers, 1);
  std::vector<Message> messages{suspect};
  for (const auto& m : recordMessages(20)) messages.push_back(m);
  auto publisher = makePublisher(broker, queue);
  ASSERT_EQ(countConfirmed(publishAll(*publisher, messages), true), 21u);

  const std::string output = ::testing::TempDir() + "/" + queue + ".log";
  std::remove(output.c_str());
  ConsumerOptions co;
  co.queue = queue;
  co.consumerId = "it-suspect";
  auto consumer = makeConsumer(broker, co);
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.pollInterval = 100ms;
  options.writeRetryDelay = 100ms;
  // One delivery per receive: over RabbitMQ the first receive would otherwise also get what the
  // broker pushed ahead with the suspect (in flight either way); this is about what comes after.
  options.maxBatch = 1;
  std::atomic<bool> stop{false};
  std::string error;
  uint64_t unackedWhileHeld = 0;
  {
    FileSink sink(output);
    Router router(sink);
    Collector collector(
        *consumer, router, [&](const std::string& q, PublishRoute route) { return makePublisher(broker, q, route); },
        queue, options, stop);
    FileSizeLimit limit(1000);
    std::thread stopper([&] {
      waitFor([&] { return fileSize(output) == 1000; }, 10s);
      std::this_thread::sleep_for(1s);  // ten polls of the hold loop
      if (GetParam() == Transport::Redis) {
        unackedWhileHeld = makeAdmin(broker)->queueStats(queue).messagesUnacked.value_or(0);
      }
      stop = true;
    });
    try {
      collector.run();
    } catch (const std::exception& e) {
      error = e.what();
    }
    stopper.join();
  }
  EXPECT_NE(error.find("stopped with 1 records not written"), std::string::npos) << error;
  if (GetParam() == Transport::Redis) {
    EXPECT_EQ(unackedWhileHeld, 1u) << "only the suspect was in the processing list";
  }
  consumer->close();
  EXPECT_EQ(fileLines(output).size(), 0u);
  auto admin = makeAdmin(broker);
  EXPECT_TRUE(waitFor([&] { return admin->queueStats(queue).messagesReady == 21; }, 5s))
      << admin->queueStats(queue).messagesReady;
  deleteTopology(GetParam(), queue);
}

INSTANTIATE_TEST_SUITE_P(Brokers, EveryBroker, ::testing::Values(Transport::Amqp, Transport::Redis),
                         [](const auto& p) { return transportName(p.param); });
