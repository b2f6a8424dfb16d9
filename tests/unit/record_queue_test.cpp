// The client library's queue between log() and its background thread (src/client/record_queue.hpp).
#include "client/record_queue.hpp"

#include <thread>

#include <gtest/gtest.h>

using namespace logship;

namespace {

QueuedRecord rec(const std::string& text) {
  QueuedRecord r;
  r.message = text;
  r.bytes = text.size();
  return r;
}

}  // namespace

TEST(RecordQueue, HoldsExactlyItsRecordLimitAndRefusesTheRest) {
  RecordQueue q({3, 1 << 20, false});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Queued);
  EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Full);
  EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Full);
  EXPECT_EQ(q.accepted(), 3u);
  EXPECT_EQ(q.refused(), 2u);
  // Taken but not handed on: still held, still full.
  std::vector<QueuedRecord> out;
  EXPECT_EQ(q.takeAll(out, std::chrono::milliseconds(0)), 3u);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Full);
  q.release(1, 1);
  EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Queued);
  EXPECT_EQ(q.push(rec("r")), RecordQueue::Pushed::Full);
  EXPECT_EQ(q.heldRecords(), 3u);
}

TEST(RecordQueue, HoldsAtMostItsByteLimitButAlwaysTakesARecordWhenEmpty) {
  RecordQueue q({100, 10, false});
  EXPECT_EQ(q.push(rec("123456")), RecordQueue::Pushed::Queued);
  EXPECT_EQ(q.push(rec("12345")), RecordQueue::Pushed::Full);   // 11 bytes
  EXPECT_EQ(q.push(rec("1234")), RecordQueue::Pushed::Queued);  // 10 bytes
  EXPECT_EQ(q.heldBytes(), 10u);
  std::vector<QueuedRecord> out;
  q.takeAll(out, std::chrono::milliseconds(0));
  q.release(2, 10);
  // Larger than the whole limit: taken when nothing else is held, so a big record never waits forever.
  EXPECT_EQ(q.push(rec(std::string(50, 'x'))), RecordQueue::Pushed::Queued);
  EXPECT_EQ(q.push(rec("1")), RecordQueue::Pushed::Full);
}

TEST(RecordQueue, TakeAllKeepsOrderAndAppendsToWhatTheTakerStillHolds) {
  RecordQueue q({100, 1 << 20, false});
  q.push(rec("a"));
  q.push(rec("b"));
  std::vector<QueuedRecord> out;
  q.takeAll(out, std::chrono::milliseconds(0));
  q.push(rec("c"));
  EXPECT_EQ(q.takeAll(out, std::chrono::milliseconds(0)), 1u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message, "a");
  EXPECT_EQ(out[1].message, "b");
  EXPECT_EQ(out[2].message, "c");
  EXPECT_EQ(q.takeAll(out, std::chrono::milliseconds(0)), 0u);
}

TEST(RecordQueue, WakeEndsAWaitingTake) {
  RecordQueue q({100, 1 << 20, false});
  std::thread waker([&] { q.wake(); });
  std::vector<QueuedRecord> out;
  // Without the wake this would wait an hour: the test finishing is the check.
  EXPECT_EQ(q.takeAll(out, std::chrono::hours(1)), 0u);
  waker.join();
}

TEST(RecordQueue, ABlockingPushWaitsForRoomAndNeverExceedsTheLimit) {
  RecordQueue q({2, 1 << 20, true});
  q.push(rec("a"));
  q.push(rec("b"));
  RecordQueue::Pushed third = RecordQueue::Pushed::Full;
  std::thread pusher([&] { third = q.push(rec("c")); });
  EXPECT_EQ(q.accepted(), 2u);  // whether or not the pusher waits yet: it cannot have got in
  std::vector<QueuedRecord> out;
  q.takeAll(out, std::chrono::milliseconds(0));
  q.release(1, 1);
  pusher.join();
  EXPECT_EQ(third, RecordQueue::Pushed::Queued);
  EXPECT_EQ(q.accepted(), 3u);
  EXPECT_EQ(q.refused(), 0u);
}

TEST(RecordQueue, CloseRefusesAndReleasesBlockedPushers) {
  RecordQueue q({1, 1 << 20, true});
  q.push(rec("a"));
  RecordQueue::Pushed second = RecordQueue::Pushed::Queued;
  std::thread pusher([&] { second = q.push(rec("b")); });
  q.close();
  pusher.join();
  EXPECT_EQ(second, RecordQueue::Pushed::Closed);
  EXPECT_EQ(q.push(rec("c")), RecordQueue::Pushed::Closed);
  EXPECT_EQ(q.accepted(), 1u);
  EXPECT_EQ(q.refused(), 2u);
}
