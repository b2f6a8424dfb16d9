// The producer's shipping pipeline (producer/shipper.hpp) as pure logic: how records with their own
// metadata are batched, and the input checkpoint settledInput(). The broker is a scripted stand-in
// whose confirms the test releases; every broker behaviour is tested against real brokers
// (integration and e2e tests).
#include "producer/shipper.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "support/fake_broker.hpp"

namespace logship {
namespace {

using namespace std::chrono_literals;

// Publishes into a list; confirms only what the test released (ok or refused).
using Script = testing::PublishScript;

PublisherConnect scripted(Script& s) { return testing::fakePublishers(s); }

std::string header(const Message& m, std::string_view key) {
  for (const auto& h : m.headers) {
    if (h.key == key) return h.value;
  }
  return "";
}

Record rec(std::string service, Level level, std::string message, int64_t ts = 0) {
  Record r;
  r.service = std::move(service);
  r.level = level;
  r.message = std::move(message);
  r.timestampUs = ts;
  return r;
}

template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

TEST(Shipper, BatchesRecordsWhileTheirMetadataStaysTheSame) {
  Script s;
  s.released = UINT64_MAX;
  ShipperOptions o;
  o.linger = 1h;
  Shipper shipper(scripted(s), Record{}, o);
  EXPECT_TRUE(shipper.ship(rec("api", Level::Error, "a1", 1'000)));
  EXPECT_TRUE(shipper.ship(rec("api", Level::Error, "a2", 2'000)));
  EXPECT_TRUE(shipper.ship(rec("api", Level::Warn, "a3", 3'000)));  // another level
  EXPECT_TRUE(shipper.ship(rec("web", Level::Warn, "w1", 4'000)));  // another service
  EXPECT_TRUE(shipper.ship(rec("web", Level::Warn, "w2", 3'500)));  // time goes back
  Record withField = rec("web", Level::Warn, "w3", 5'000);
  withField.fields.push_back({"k", "v"});
  EXPECT_TRUE(shipper.ship(withField));               // other fields
  EXPECT_TRUE(shipper.ship(std::string_view("t1")));  // the template's metadata
  EXPECT_TRUE(shipper.ship(std::string_view("t2")));
  shipper.finish(false);
  ASSERT_EQ(s.published.size(), 6u);
  std::vector<std::string> bodies;
  for (const auto& m : s.published) bodies.push_back(m.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"a1\na2", "a3", "w1", "w2", "w3", "t1\nt2"}));
  EXPECT_EQ(header(s.published[0], wire::kService), "api");
  EXPECT_EQ(header(s.published[0], wire::kLevel), "error");
  EXPECT_EQ(header(s.published[0], wire::kTimestamp), "1000");
  EXPECT_EQ(header(s.published[0], wire::kTsDeltas), "1000");
  EXPECT_EQ(header(s.published[3], wire::kTimestamp), "3500");
  EXPECT_EQ(header(s.published[4], "logship-field-k"), "v");
  EXPECT_EQ(header(s.published[5], wire::kService), "-");
  // Ids are consecutive across all of them, whatever their metadata.
  std::vector<Record> records;
  for (const auto& m : s.published) {
    std::string error;
    ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, records, error)) << error;
  }
  ASSERT_EQ(records.size(), 8u);
  uint64_t first = 0;
  std::string_view prefix;
  ASSERT_TRUE(splitRecordId(records[0].id, prefix, first));
  for (size_t i = 0; i < records.size(); ++i) {
    std::string_view p;
    uint64_t n = 0;
    ASSERT_TRUE(splitRecordId(records[i].id, p, n));
    EXPECT_EQ(n, first + i);
  }
  EXPECT_EQ(records[1].timestampUs, 2'000);
  EXPECT_TRUE(shipper.allConfirmed());
}

TEST(Shipper, GivenIdsAreBatchedOnlyWhileConsecutiveInOnePrefix) {
  Script s;
  s.released = UINT64_MAX;
  ShipperOptions o;
  o.linger = 1h;
  Shipper shipper(scripted(s), Record{}, o);
  const std::string a = "00000000000000aa", b = "00000000000000bb";
  for (auto [prefix, n, text] : {std::tuple{&a, 7, "a7"},
                                 {&a, 8, "a8"},
                                 {&a, 10, "a10"},     // a gap
                                 {&b, 11, "b11"}}) {  // another prefix
    shipper.nextRecordId(*prefix, n);
    EXPECT_TRUE(shipper.ship(std::string_view(text)));
  }
  EXPECT_TRUE(shipper.ship(std::string_view("own")));  // no id given: the instance's
  shipper.finish(false);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& m : s.published) got.emplace_back(m.body, header(m, wire::kId));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"a7\na8", a + "-7"}));
  EXPECT_EQ(got[1], (std::pair<std::string, std::string>{"a10", a + "-10"}));
  EXPECT_EQ(got[2], (std::pair<std::string, std::string>{"b11", b + "-11"}));
  EXPECT_EQ(got[3].first, "own");
  EXPECT_TRUE(got[3].second.ends_with("-1")) << got[3].second;  // the instance's first id
}

TEST(Shipper, ARecordWithoutATimestampGetsTheCurrentTime) {
  Script s;
  s.released = UINT64_MAX;
  Shipper shipper(scripted(s), Record{}, ShipperOptions{});
  const int64_t before =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  shipper.ship(rec("api", Level::Info, "now"));
  shipper.finish(false);
  ASSERT_EQ(s.published.size(), 1u);
  EXPECT_GE(std::stoll(header(s.published[0], wire::kTimestamp)), before);
}

TEST(Shipper, SettledInputFollowsTheConfirmsInOrder) {
  Script s;
  s.released = 0;
  ShipperOptions o;
  o.batchRecords = 2;
  o.maxMessageBytes = 10;
  o.linger = 1h;
  Shipper shipper(scripted(s), Record{}, o);
  shipper.ship(std::string_view("r1"));
  shipper.ship(std::string_view("r2"));  // message 1: r1 r2
  shipper.ship(std::string_view("r3"));
  EXPECT_FALSE(shipper.ship(std::string_view("far too long for the limit")));  // input 4: refused
  shipper.ship(std::string_view("r5"));                                        // message 2: r3 r5
  shipper.ship(std::string_view("r6"));                                        // being batched
  EXPECT_EQ(shipper.settledInput(), 0u);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard l(s.mu);
    return s.published.size() == 2;
  }));
  {
    std::lock_guard lock(s.mu);
    s.released = 1;
  }
  ASSERT_TRUE(eventually([&] { return shipper.settledInput() == 2; }));
  {
    std::lock_guard lock(s.mu);
    s.released = 2;
  }
  // r6 is not sent yet: everything before it is settled, the refused record included.
  ASSERT_TRUE(eventually([&] { return shipper.settledInput() == 5; }));
  shipper.refuse();  // input 7, while r6 waits
  EXPECT_EQ(shipper.settledInput(), 5u);
  {
    std::lock_guard lock(s.mu);
    s.released = UINT64_MAX;
  }
  shipper.finish(false);
  EXPECT_EQ(shipper.settledInput(), 7u);
}

// One record per message; the broker confirms every message at once, except the second: refused.
std::unique_ptr<Shipper> refusingTheSecond(Script& s) {
  s.released = UINT64_MAX;
  s.refusedSeq = 2;
  ShipperOptions o;
  o.batchRecords = 1;
  return std::make_unique<Shipper>(scripted(s), Record{}, o);
}

TEST(Shipper, SettledInputStopsAtARecordTheBrokerRefused) {
  Script s;
  const auto owned = refusingTheSecond(s);
  Shipper& shipper = *owned;
  for (int i = 1; i <= 4; ++i) shipper.ship(fmt::format("r{}", i));
  shipper.finish(false);
  EXPECT_EQ(shipper.report().failed, 1u);
  EXPECT_EQ(shipper.settledInput(), 1u);  // r2 was refused: nothing from it on counts as settled
}

// report() is read by other threads while the sender runs (DrainProgress's thread, the client
// library's constructor): the first refusal's reason, which the sender writes, must not be torn.
// A data race here is what the TSan lane (scripts/sanitize.sh tsan) reports.
TEST(Shipper, ReportMayBeReadFromAnotherThreadWhileTheBrokerRefuses) {
  Script s;
  const auto owned = refusingTheSecond(s);
  Shipper& shipper = *owned;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      const ShipReport r = shipper.report();
      EXPECT_TRUE(r.firstFailure.empty() || r.firstFailure == "refused by the script") << r.firstFailure;
      reads.fetch_add(1);
    }
  });
  EXPECT_TRUE(eventually([&] { return reads.load() > 0; }));
  for (int i = 1; i <= 4; ++i) shipper.ship(fmt::format("r{}", i));
  shipper.flushDue();
  EXPECT_TRUE(eventually([&] { return shipper.report().failed == 1u; }));
  done = true;
  reader.join();
  shipper.finish(false);
  EXPECT_EQ(shipper.report().firstFailure, "refused by the script");
  EXPECT_EQ(shipper.report().confirmed, 3u);
}

TEST(Shipper, WithADiskSpoolARecordIsSettledOnceStored) {
  const auto dir = std::filesystem::temp_directory_path() / ("shipper_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    Script s;
    s.released = 0;  // confirms nothing
    ShipperOptions o;
    o.batchRecords = 3;
    o.linger = 1h;
    o.spoolDir = dir.string();
    o.stopGrace = 10ms;
    Shipper shipper(scripted(s), Record{}, o);
    for (int i = 1; i <= 4; ++i) shipper.ship(fmt::format("r{}", i));
    EXPECT_EQ(shipper.settledInput(), 3u);  // r1-r3 are in the spool; r4 is being batched
    shipper.finish(true);
    EXPECT_EQ(shipper.settledInput(), 4u);
    EXPECT_EQ(shipper.report().remaining, 4u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
// Ships 5,000 records, one per message, to a broker that confirms them (refusing message
// `refusedSeq`; 0: none) without asking for the checkpoint, then one more once every message was
// answered: the marks held then, and the checkpoint at the end.
std::pair<size_t, uint64_t> marksAfterManyMessages(uint64_t refusedSeq) {
  Script s;
  s.released = UINT64_MAX;
  s.refusedSeq = refusedSeq;
  ShipperOptions o;
  o.batchRecords = 1;
  Shipper shipper(scripted(s), Record{}, o);
  constexpr uint64_t kMessages = 5000;
  for (uint64_t i = 0; i < kMessages; ++i) shipper.ship(fmt::format("r{}", i));
  EXPECT_TRUE(eventually([&] { return shipper.report().confirmed + shipper.report().failed == kMessages; }));
  shipper.ship(std::string_view("one more"));  // stores a message: what settled meanwhile is dropped
  const size_t marks = shipper.inputMarks();
  shipper.finish(false);
  return {marks, shipper.settledInput()};
}

// stdin and syslog never ask for a checkpoint: the marks behind settledInput() must not pile up
// one per message all the same (issue 15: the producer grew ~1 GB a day).
TEST(Shipper, InputMarksStayBoundedWithoutACheckpoint) {
  const auto [marks, settled] = marksAfterManyMessages(0);
  EXPECT_LE(marks, 1u);
  EXPECT_EQ(settled, 5001u);
}

TEST(Shipper, InputMarksAreDroppedOnceNothingCanSettle) {
  const auto [marks, settled] = marksAfterManyMessages(2);
  EXPECT_LE(marks, 1u);
  EXPECT_EQ(settled, 1u);  // still: nothing from the refused record on is settled
}

}  // namespace logship
