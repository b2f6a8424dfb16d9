// The producer's spool (producer/spool.hpp): order, release, restart, crash repair, limits.
#include "producer/spool.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "sink_test_support.hpp"

namespace logship {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

Message msg(int i, size_t pad = 0) {
  Message m;
  m.body = "record " + std::to_string(i) + std::string(pad, 'x');
  m.headers.push_back({"logship-id", "p-" + std::to_string(i), true});
  m.headers.push_back({"logship-level", "info", true});
  return m;
}

std::vector<std::string> bodies(const std::vector<Message>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.body);
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spool_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    if (!fs::exists(dir_)) return out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".seg") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

TEST(SpoolPayload, RoundTripsHeadersAndBinaryBody) {
  Message m;
  m.body = std::string("a\0b\nc\xff", 6);
  m.headers = {{"k", "", true}, {"", "v", true}, {"logship-id", "x-1", true}};
  std::string p;
  encodeSpoolPayload(m, p);
  Message back;
  ASSERT_TRUE(decodeSpoolPayload(p, back));
  EXPECT_EQ(back.body, m.body);
  ASSERT_EQ(back.headers.size(), 3u);
  EXPECT_EQ(back.headers[1].value, "v");
  for (size_t cut = 0; cut < p.size() - m.body.size(); ++cut) {
    EXPECT_FALSE(decodeSpoolPayload(std::string_view(p).substr(0, cut), back)) << cut;
  }
}

TEST(MemorySpoolTest, TakesInOrderAndCountsTakenEntriesUntilReleased) {
  MemorySpool s(SpoolLimits{});
  for (int i = 0; i < 5; ++i) ASSERT_EQ(s.append(msg(i)), Spool::Appended::Stored);
  const size_t full = s.bytes();
  std::vector<Message> got;
  EXPECT_EQ(s.take(got, 3, 0ms), 3u);
  EXPECT_EQ(bodies(got), (std::vector<std::string>{"record 0", "record 1", "record 2"}));
  EXPECT_EQ(s.untaken(), 2u);
  EXPECT_EQ(s.bytes(), full);  // taken entries still count against the limit until released
  s.release(2, 2);
  EXPECT_EQ(s.held(), 3u);
  EXPECT_LT(s.bytes(), full);
  // The taken messages were handed over to the sender: a memory spool has nothing to rewind.
  EXPECT_THROW(s.rewind(), std::logic_error);
  got.clear();
  EXPECT_EQ(s.take(got, 10, 0ms), 2u);
  EXPECT_EQ(bodies(got), (std::vector<std::string>{"record 3", "record 4"}));
}

// The bytes a MemorySpool counts for msg(i, bodyBytes) (its memory, more than the body).
size_t memoryEntryBytes(size_t bodyBytes) {
  MemorySpool probe(SpoolLimits{});
  probe.append(msg(0, bodyBytes));
  return probe.bytes();
}

TEST(MemorySpoolTest, CountsMemoryNotJustTheBody) {
  const size_t e = memoryEntryBytes(100);
  EXPECT_GT(e, 100u + sizeof(Message));
  EXPECT_LT(e, 1000u);
}

TEST(MemorySpoolTest, BlocksWhenFullUntilReleased) {
  const size_t e = memoryEntryBytes(100);
  MemorySpool s(SpoolLimits{5 * e, false});
  int stored = 0;
  while (stored < 100 && s.bytes() + e <= 5 * e) {
    ASSERT_EQ(s.append(msg(stored, 100)), Spool::Appended::Stored);
    ++stored;
  }
  std::atomic<bool> appended{false};
  std::thread t([&] {
    EXPECT_EQ(s.append(msg(99, 100)), Spool::Appended::Stored);
    appended = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(appended.load()) << "append must block while the spool is full";
  std::vector<Message> got;
  s.take(got, 2, 0ms);
  s.release(2, 2);
  t.join();
  EXPECT_TRUE(appended.load());
}

TEST(MemorySpoolTest, DropsAndCountsWhenFullInDropMode) {
  MemorySpool s(SpoolLimits{5 * memoryEntryBytes(100), true});
  int stored = 0, dropped = 0;
  for (int i = 0; i < 50; ++i) {
    (s.append(msg(i, 100)) == Spool::Appended::Stored ? stored : dropped)++;
  }
  EXPECT_GT(stored, 0);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(s.dropped(), static_cast<uint64_t>(dropped));
  EXPECT_EQ(s.held(), static_cast<uint64_t>(stored));
}

TEST(MemorySpoolTest, ShutdownWakesABlockedAppend) {
  MemorySpool s(SpoolLimits{memoryEntryBytes(200) + 100, false});
  ASSERT_EQ(s.append(msg(0, 200)), Spool::Appended::Stored);
  std::thread t([&] { EXPECT_EQ(s.append(msg(1, 200)), Spool::Appended::Closed); });
  std::this_thread::sleep_for(100ms);
  s.shutdown();
  t.join();
}

TEST_F(SpoolTest, RestartSendsWhatWasNotReleasedInOrder) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    EXPECT_EQ(s.recovered(), 0u);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(s.append(msg(i)), Spool::Appended::Stored);
    std::vector<Message> got;
    EXPECT_EQ(s.take(got, 60, 0ms), 60u);
    s.release(40, 40);  // 40 confirmed; 20 in flight when the producer dies
  }
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_EQ(s.recovered(), 60u);
  EXPECT_EQ(s.held(), 60u);
  std::vector<Message> got;
  EXPECT_EQ(s.take(got, 1000, 0ms), 60u);
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(got[i].body, "record " + std::to_string(40 + i));
    ASSERT_EQ(got[i].headers[0].value, "p-" + std::to_string(40 + i));
  }
  // New records continue the numbering after the old ones.
  ASSERT_EQ(s.append(msg(100)), Spool::Appended::Stored);
  got.clear();
  EXPECT_EQ(s.take(got, 10, 0ms), 1u);
  EXPECT_EQ(got[0].body, "record 100");
}

TEST_F(SpoolTest, ReadsFromDiskWhenTheMemoryCacheIsExceededAndDeletesConfirmedSegments) {
  // 1 MiB cap: 128 KiB segments, 256 KiB cache; 3000 records of ~300 bytes span several segments.
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(s.append(msg(i, 250)), Spool::Appended::Stored);
  EXPECT_GE(segments().size(), 5u);
  std::vector<Message> got;
  int next = 0;
  while (s.untaken() > 0) {
    got.clear();
    s.take(got, 97, 0ms);
    for (const auto& m : got) ASSERT_EQ(m.body, "record " + std::to_string(next++) + std::string(250, 'x'));
    s.release(got.size(), got.size());
  }
  EXPECT_EQ(next, 3000);
  EXPECT_LE(segments().size(), 1u) << "confirmed segments are deleted";
}

TEST_F(SpoolTest, RewindAfterALostConnectionRereadsFromDisk) {
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(s.append(msg(i, 250)), Spool::Appended::Stored);
  std::vector<Message> got;
  s.take(got, 500, 0ms);
  s.release(100, 100);
  s.rewind();
  got.clear();
  s.take(got, 5, 0ms);
  EXPECT_EQ(got[0].body, "record 100" + std::string(250, 'x'));
  EXPECT_EQ(got[4].body, "record 104" + std::string(250, 'x'));
}

TEST_F(SpoolTest, ATornLastEntryIsCutOffAtRestart) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    for (int i = 0; i < 10; ++i) ASSERT_EQ(s.append(msg(i)), Spool::Appended::Stored);
  }
  auto segs = segments();
  ASSERT_EQ(segs.size(), 1u);
  const auto size = fs::file_size(segs[0]);
  fs::resize_file(segs[0], size - 3);  // a crash in the middle of the last append
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    EXPECT_EQ(s.recovered(), 9u);
    ASSERT_EQ(s.append(msg(10)), Spool::Appended::Stored);
  }
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  std::vector<Message> got;
  s.take(got, 100, 0ms);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[8].body, "record 8");
  EXPECT_EQ(got[9].body, "record 10");
}

TEST_F(SpoolTest, ACorruptedEntryEndsTheSegmentAndIsReported) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    for (int i = 0; i < 10; ++i) ASSERT_EQ(s.append(msg(i)), Spool::Appended::Stored);
  }
  auto segs = segments();
  std::string data = testing::readFile(segs[0].string());
  const auto pos = data.find("record 5");
  ASSERT_NE(pos, std::string::npos);
  data[pos] = 'R';  // a flipped byte: the checksum no longer matches
  std::ofstream(segs[0], std::ios::binary | std::ios::trunc) << data;
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_EQ(s.recovered(), 5u);
}

TEST_F(SpoolTest, ALostCursorMeansEverythingIsSentAgainNeverLess) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    for (int i = 0; i < 10; ++i) ASSERT_EQ(s.append(msg(i)), Spool::Appended::Stored);
    std::vector<Message> got;
    s.take(got, 4, 0ms);
    s.release(4, 4);
  }
  std::ofstream(dir_ / "cursor", std::ios::trunc) << "garbage!garbage!";
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_EQ(s.recovered(), 10u);
}

TEST_F(SpoolTest, OneProducerPerDirectory) {
  DiskSpool first(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_THROW(DiskSpool(dir_.string(), SpoolLimits{1 << 20, false}), Error);
}

TEST_F(SpoolTest, TheCapCountsBytesOnDiskAndSpaceComesBackWhenSegmentsAreConfirmed) {
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, true});
  int stored = 0;
  for (int i = 0; i < 10000; ++i) {
    if (s.append(msg(i, 1000)) == Spool::Appended::Stored) ++stored;
  }
  EXPECT_LT(stored, 1100);
  EXPECT_GT(stored, 800);
  uint64_t onDisk = 0;
  for (const auto& p : segments()) onDisk += fs::file_size(p);
  EXPECT_LE(onDisk, uint64_t{1} << 20);
  std::vector<Message> got;
  s.take(got, 100000, 0ms);
  s.release(got.size(), got.size());
  EXPECT_EQ(s.append(msg(-1, 1000)), Spool::Appended::Stored) << "space is back once everything is confirmed";
}

TEST_F(SpoolTest, AWriteErrorRefusesTheRecordAndLeavesNoTornEntry) {
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  ASSERT_EQ(s.append(msg(0)), Spool::Appended::Stored);
  const uint64_t before = fs::file_size(segments()[0]);
  const int err = testing::underFileSizeLimit(before + 10, [&] { EXPECT_THROW(s.append(msg(1, 100)), Error); });
  (void)err;
  EXPECT_EQ(fs::file_size(segments()[0]), before);
  EXPECT_EQ(s.held(), 1u);
}

TEST_F(SpoolTest, RefusedRecordsAreKeptAsLinesOnePerRecord) {
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  Record r;
  r.message = "two\nlines";
  r.id = "p-7";
  Message m;
  encodeRecord(r, m);
  s.keepRefused(m, "NOT_FOUND - no queue");
  BatchBuilder b;
  r.message = "first";
  r.id = "q-1";
  b.start(r);
  b.add("second", r.timestampUs);
  b.finish(m);
  s.keepRefused(m, "nack");
  EXPECT_EQ(testing::readFile((dir_ / "refused.log").string()),
            "p-7\tNOT_FOUND - no queue\ttwo\\nlines\nq-1\tnack\tfirst\nq-2\tnack\tsecond\n");
}

}  // namespace
}  // namespace logship

namespace logship {
namespace {

TEST_F(SpoolTest, ASpoolRemembersItsQueueAndRefusesRecordsForAnother) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    s.claimQueue("app");
    ASSERT_EQ(s.append(msg(0)), Spool::Appended::Stored);
  }
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
    std::string what;
    try {
      s.claimQueue("other");
    } catch (const UsageError& e) {
      what = e.what();
    }
    EXPECT_NE(what.find("holds 1 record(s) for queue 'app', not for --queue 'other'"), std::string::npos) << what;
    EXPECT_NO_THROW(s.claimQueue("app"));
    std::vector<Message> got;
    ASSERT_EQ(s.take(got, 10, 0ms), 1u);
    s.release(1, 1);
  }
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_NO_THROW(s.claimQueue("other"));  // empty: nothing can go to the wrong queue
  std::ifstream in(dir_ / "queue");
  std::string recorded;
  std::getline(in, recorded);
  EXPECT_EQ(recorded, "other");
}

TEST_F(SpoolTest, ASpoolFromBeforeTheQueueFileIsSentToTheQueueGiven) {
  {
    DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});  // as before: no claimQueue, no DIR/queue
    ASSERT_EQ(s.append(msg(0)), Spool::Appended::Stored);
  }
  DiskSpool s(dir_.string(), SpoolLimits{1 << 20, false});
  EXPECT_NO_THROW(s.claimQueue("any"));
  EXPECT_EQ(s.held(), 1u);
}

}  // namespace
}  // namespace logship

namespace logship {
namespace {

// The Shipper sees only the Spool interface (openSpool): what differs is said by it.
TEST_F(SpoolTest, OpenSpoolTellsThePromiseAndWhereRecordsAreKept) {
  const std::unique_ptr<Spool> memory = openSpool("", SpoolLimits{1 << 20, false}, "app");
  EXPECT_FALSE(memory->durable());
  EXPECT_EQ(memory->location(), "");
  EXPECT_EQ(memory->refusedNote(), "");
  EXPECT_EQ(memory->recovered(), 0u);
  memory->keepRefused(msg(0), "nack");  // only counted by the Shipper: nothing kept
  {
    const std::unique_ptr<Spool> disk = openSpool(dir_.string(), SpoolLimits{1 << 20, false}, "app");
    EXPECT_TRUE(disk->durable());
    EXPECT_EQ(disk->location(), dir_.string());
    EXPECT_EQ(disk->refusedNote(), " (kept in " + dir_.string() + "/refused.log)");
    ASSERT_EQ(disk->append(msg(1)), Spool::Appended::Stored);
    disk->keepRefused(msg(2), "nack");
    EXPECT_EQ(testing::readFile((dir_ / "refused.log").string()), "-\tnack\trecord 2\n");  // msg() is no record
  }
  EXPECT_EQ(openSpool(dir_.string(), SpoolLimits{1 << 20, false}, "app")->recovered(), 1u);
  EXPECT_THROW(openSpool(dir_.string(), SpoolLimits{1 << 20, false}, "other"), UsageError);  // claimQueue
}

}  // namespace
}  // namespace logship
