// The collector's decisions (aggregator/collector.hpp) without a broker: deliveries from a
// FakeConsumer, dead letters and recounts into FakePublishers, lines into real files in a temporary
// directory. What is acked when, what is written, dead-lettered, put back, or not written twice.
// The brokers' side of the same promises is tested against real brokers (integration, e2e).
#include "aggregator/collector.hpp"

#include <sys/resource.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "aggregator/route.hpp"
#include "aggregator/router.hpp"
#include "core/message.hpp"
#include "sink_test_support.hpp"
#include "support/fake_broker.hpp"
#include "support/temp_dir.hpp"

namespace logship {
namespace {

using namespace std::chrono_literals;
using testing::FakeConsumer;
using testing::PublishScript;
using testing::readFile;

std::string header(const Message& m, std::string_view key) {
  for (const Header& h : m.headers) {
    if (h.key == key) return h.value;
  }
  return "<none>";
}

// The wire form of one record with this message, id and level.
Delivery record(std::string message, std::string id = "", Level level = Level::Info) {
  Record r;
  r.message = std::move(message);
  r.id = std::move(id);
  r.level = level;
  r.timestampUs = 1'000'000;
  Message m;
  encodeRecord(r, m);
  Delivery d;
  d.body = std::move(m.body);
  d.headers = std::move(m.headers);
  return d;
}

Delivery redelivered(Delivery d, uint32_t unrecordedFailures) {
  d.redelivered = true;
  d.unrecordedFailures = unrecordedFailures;
  return d;
}

class CollectorTest : public ::testing::Test {
 protected:
  CollectorTest() {
    options.format = OutputFormat::Raw;
    options.pollInterval = 1ms;
    options.writeRetryDelay = 1ms;
    consumer.whenIdle = [this] { stop = true; };  // everything taken: the collector stops
  }

  // Runs a collector over `router` until `from` has nothing more to hand out.
  CollectorStats run(Router& router, FakeConsumer& from) {
    Collector collector(
        from, router,
        [this](const std::string& queue, PublishRoute route) -> std::unique_ptr<Publisher> {
          opened.push_back(queue);
          return std::make_unique<testing::FakePublisher>(route == PublishRoute::DeadLetter ? deadLetters : putBack);
        },
        "q", options, stop);
    collector.run();
    return collector.stats();
  }
  CollectorStats run(Router& router) { return run(router, consumer); }
  CollectorStats run() {
    Router router(out);
    return run(router);
  }

  testing::TempDir tmp;
  const std::string path = tmp / "out.log";
  FileSink out{path};
  FakeConsumer consumer;
  PublishScript deadLetters;        // to q.dead
  PublishScript putBack;            // to q itself: redeliveries with their count, given back
  std::vector<std::string> opened;  // the queues publishers were opened to
  std::atomic<bool> stop{false};
  CollectorOptions options;
};

TEST_F(CollectorTest, AcksOnceTheLinesAreInTheOutput) {
  for (const char* m : {"a", "b", "c"}) consumer.push(record(m));
  std::string atAck;
  consumer.onAck = [&](uint64_t) { atAck = readFile(path); };
  const CollectorStats stats = run();
  EXPECT_EQ(consumer.acks, std::vector<uint64_t>{3}) << "the batch, with one multiple-ack";
  EXPECT_EQ(atAck, "a\nb\nc\n") << "its lines were in the file before the ack";
  EXPECT_EQ(stats.written, 3u);
  EXPECT_TRUE(opened.empty()) << "nothing dead-lettered or put back";
}

// A compressed batch is small on the wire and large once its lines are formatted: the deliveries
// taken at once are bounded by their text, not their wire size (log_aggregator held 56 MB of lines
// at once with --compress zstd, twice its memory without).
TEST_F(CollectorTest, CompressedBatchesAreTakenFewerAtATimeByTheirText) {
  constexpr size_t kBatches = 40;
  constexpr size_t kRecords = 1000;
  BatchBuilder batch;
  batch.setCompression(1);
  Message m;
  for (size_t b = 0; b < kBatches; ++b) {
    Record first;
    first.message = fmt::format("{:03} {:04} {}", b, 0, std::string(90, 'x'));
    first.id = fmt::format("run-{}", b * kRecords);
    first.timestampUs = 1'000'000;
    batch.start(first);
    for (size_t i = 1; i < kRecords; ++i)
      batch.add(fmt::format("{:03} {:04} {}", b, i, std::string(90, 'x')), 1'000'000);
    batch.finish(m);
    ASSERT_LT(m.body.size(), 10'000u) << "compressed: about 100 times smaller than its text";
    consumer.push(std::move(m.body), std::move(m.headers));
  }
  options.maxBatch = 200;
  options.maxBatchBytes = 1'000'000;  // about ten batches' text (100 KB each)
  const CollectorStats stats = run();
  EXPECT_EQ(stats.written, kBatches * kRecords);
  ASSERT_GE(consumer.receiveMaxima.size(), 2u);
  for (size_t i = 1; i < consumer.receiveMaxima.size(); ++i) {
    EXPECT_LE(consumer.receiveMaxima[i], 10u) << "receive " << i << " asked for more than ~1 MB of text";
  }
}

TEST_F(CollectorTest, ARedeliveryOfARecordAlreadyInTheOutputIsAckedWithoutWriting) {
  out.enableDedup(IdJournalOptions{});
  consumer.push(record("a", "p-1"));
  consumer.push(record("b", "p-2"));
  run();
  ASSERT_EQ(readFile(path), "a\nb\n");

  // The next aggregator finds the journal on disk; b comes again, its failure not recorded yet.
  FileSink again(path);
  again.enableDedup(IdJournalOptions{});
  Router router(again);
  FakeConsumer next;
  stop = false;
  next.whenIdle = [this] { stop = true; };
  next.push(redelivered(record("b", "p-2"), 1));
  next.push(record("c", "p-3"));
  const CollectorStats stats = run(router, next);
  EXPECT_EQ(readFile(path), "a\nb\nc\n") << "b is not written again";
  EXPECT_EQ(next.acked(), 2u);
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_TRUE(putBack.published.empty()) << "written before: done, whatever its history";
}

TEST_F(CollectorTest, ARecordSentTwiceIsWrittenOnce) {
  out.enableDedup(IdJournalOptions{});
  consumer.push(record("a", "p-1"));
  consumer.push(record("a", "p-1"));  // the producer resent it (no confirm came)
  consumer.push(record("b", "p-2"));
  const CollectorStats stats = run();
  EXPECT_EQ(readFile(path), "a\nb\n");
  EXPECT_EQ(stats.duplicates, 1u);
  EXPECT_EQ(stats.written, 2u);
  EXPECT_EQ(consumer.acked(), 3u);
}

TEST_F(CollectorTest, ARecordThatFailedMaxDeliveriesTimesIsDeadLetteredWithTheReason) {
  options.maxDeliveries = 3;
  consumer.push(record("fine"));
  Delivery poison = redelivered(record("poison"), 1);
  setRecordedDeliveries(poison.headers, 2);  // 2 recorded + 1 the broker reports: 3
  consumer.push(poison);
  const CollectorStats stats = run();
  EXPECT_EQ(readFile(path), "fine\n");
  ASSERT_EQ(deadLetters.published.size(), 1u);
  const Message& dead = deadLetters.published[0];
  EXPECT_EQ(dead.body, poison.body);
  EXPECT_EQ(header(dead, wire::kDeadReason), poisonReason(3));
  EXPECT_EQ(header(dead, wire::kDeadQueue), "q");
  EXPECT_EQ(header(dead, wire::kDeliveries), "<none>") << "a dead letter moved back starts afresh";
  EXPECT_EQ(opened, std::vector<std::string>{"q.dead"});
  EXPECT_EQ(stats.poison, 1u);
  EXPECT_EQ(consumer.acked(), 2u) << "acked once the dead letter was confirmed";
}

TEST_F(CollectorTest, ARedeliveryUnderTheLimitGoesBackToTheQueueWithItsCount) {
  options.maxDeliveries = 3;
  consumer.push(redelivered(record("again"), 1));
  const CollectorStats stats = run();
  EXPECT_EQ(readFile(path), "") << "not written: sent on with its failure recorded";
  ASSERT_EQ(putBack.published.size(), 1u);
  EXPECT_EQ(header(putBack.published[0], wire::kDeliveries), "1");
  EXPECT_EQ(stats.recounted, 1u);
  EXPECT_EQ(stats.poison, 0u);
  EXPECT_EQ(consumer.acked(), 1u);
}

TEST_F(CollectorTest, AnUnconfirmedDeadLetterIsNotAcked) {
  options.maxDeliveries = 1;
  options.deadLetterTimeout = 1ms;
  deadLetters.refusedSeq = 1;  // the broker refuses it
  consumer.push(redelivered(record("poison"), 1));
  EXPECT_THROW(run(), Error);
  EXPECT_TRUE(consumer.acks.empty());
}

TEST_F(CollectorTest, ATooLargeMessageIsDeadLetteredAndTheOthersWritten) {
  options.maxMessageBytes = 64;
  consumer.push(record("small"));
  Delivery big;
  big.body = std::string(65, 'x');
  consumer.push(big);
  const CollectorStats stats = run();
  EXPECT_EQ(readFile(path), "small\n");
  ASSERT_EQ(deadLetters.published.size(), 1u);
  EXPECT_EQ(header(deadLetters.published[0], wire::kDeadReason), tooLargeReason(65, 64, OversizeBody::Read));
  EXPECT_EQ(stats.deadLettered, 1u);
  EXPECT_EQ(consumer.acked(), 2u);
}

TEST_F(CollectorTest, RecordsGoToEveryOutputTheirRoutesSelect) {
  FileSink errors(tmp / "errors.log");
  Router router(out);
  router.addRoute(parseRouteRule("level>=error:errors.log"), errors);
  consumer.push(record("i1", "", Level::Info));
  consumer.push(record("e1", "", Level::Error));
  consumer.push(record("f1", "", Level::Fatal));
  std::string errorsAtAck;
  consumer.onAck = [&](uint64_t) { errorsAtAck = readFile(tmp / "errors.log"); };
  const CollectorStats stats = run(router);
  EXPECT_EQ(readFile(path), "i1\ne1\nf1\n") << "the default output gets every record";
  EXPECT_EQ(readFile(tmp / "errors.log"), "e1\nf1\n");
  EXPECT_EQ(errorsAtAck, "e1\nf1\n") << "acked once in every output";
  EXPECT_EQ(stats.written, 3u) << "a record is counted once, whatever the outputs";
  EXPECT_EQ(consumer.acked(), 3u);
}

TEST_F(CollectorTest, NothingIsAckedWhenTheOutputCannotBeWritten) {
  options.writeRetryFor = 0ms;  // give up at the first error
  for (const char* m : {"a", "b"}) consumer.push(record(m));
  // Every write to a file fails (EFBIG): the collector gives up and gives them back.
  EXPECT_EQ(testing::underFileSizeLimit(0, [&] { run(); }), -1) << "run() threw a SinkError";
  EXPECT_TRUE(consumer.acks.empty());
  EXPECT_EQ(consumer.handBacks, 1);
  EXPECT_EQ(readFile(path), "");
}

TEST_F(CollectorTest, HeldDeliveriesAreAckedAsTheirLinesReachTheFile) {
  for (const char* m : {"aaaa", "bbbb", "cccc"}) consumer.push(record(m));
  std::vector<std::string> atAcks;
  consumer.onAck = [&](uint64_t) { atAcks.push_back(readFile(path)); };
  bool lifted = false;
  consumer.whenIdle = [&] {
    if (lifted) {
      stop = true;
      return;
    }
    rlimit limit{};  // the disk has room again
    ::getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_FSIZE, &limit);
    lifted = true;
  };
  CollectorStats stats;
  // Room for the first line and a part of the second.
  EXPECT_EQ(testing::underFileSizeLimit(7, [&] { stats = run(); }), 0);
  EXPECT_EQ(consumer.acks, (std::vector<uint64_t>{1, 3}));
  ASSERT_EQ(atAcks.size(), 2u);
  EXPECT_EQ(atAcks[0], "aaaa\nbb") << "the first delivery is acked, its line whole in the file";
  EXPECT_EQ(atAcks[1], "aaaa\nbbbb\ncccc\n") << "the others once written";
  EXPECT_EQ(stats.written, 3u);
  EXPECT_GE(stats.writeErrors, 1u);
}

}  // namespace
}  // namespace logship
