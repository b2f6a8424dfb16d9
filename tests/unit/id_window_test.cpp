// The duplicate-suppression window (aggregator/id_window.hpp): ranges of consecutive ids per
// producer instance, raw strings for other ids, oldest out first.
#include "aggregator/id_window.hpp"

#include <deque>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace logship {
namespace {

std::vector<std::string> all(const IdWindow& w) {
  std::vector<std::string> out;
  w.forEach([&](std::string_view id) { out.emplace_back(id); });
  return out;
}

TEST(IdWindow, SplitsOnlyCanonicalNumberedIds) {
  std::string_view p;
  uint64_t n = 0;
  EXPECT_TRUE(IdWindow::split("0123abcd0123abcd-42", p, n));
  EXPECT_EQ(p, "0123abcd0123abcd");
  EXPECT_EQ(n, 42u);
  EXPECT_TRUE(IdWindow::split("a-b-0", p, n));
  EXPECT_EQ(p, "a-b");
  for (const char* raw : {"", "-1", "abc", "abc-", "abc-01", "abc-1x", "abc-+1", "abc-99999999999999999999"}) {
    EXPECT_FALSE(IdWindow::split(raw, p, n)) << raw;
  }
}

TEST(IdWindow, RemembersAndForgetsOldestFirst) {
  IdWindow w(5);
  for (int i = 1; i <= 7; ++i) w.insert("p-" + std::to_string(i));
  EXPECT_EQ(w.size(), 5u);
  EXPECT_FALSE(w.contains("p-1"));
  EXPECT_FALSE(w.contains("p-2"));
  for (int i = 3; i <= 7; ++i) EXPECT_TRUE(w.contains("p-" + std::to_string(i))) << i;
  EXPECT_FALSE(w.contains("p-8"));
  EXPECT_FALSE(w.contains("q-3"));
  EXPECT_FALSE(w.contains("p-03"));  // another id, not p-3
}

TEST(IdWindow, MixesProducersAndRawIdsInArrivalOrder) {
  IdWindow w(100);
  w.insert("a-1");
  w.insert("b-10");
  w.insert("a-2");
  w.insert("plain id");
  w.insert("a-3");
  w.insert("a-2");  // already there: no change
  EXPECT_EQ(w.size(), 5u);
  EXPECT_EQ(all(w), (std::vector<std::string>{"a-1", "b-10", "a-2", "plain id", "a-3"}));
  EXPECT_TRUE(w.contains("plain id"));
}

TEST(IdWindow, EraseSplitsARangeAndTheIdCanComeBack) {
  IdWindow w(100);
  for (int i = 1; i <= 10; ++i) w.insert("p-" + std::to_string(i));
  w.erase("p-5");
  w.erase("raw-never-there");
  EXPECT_EQ(w.size(), 9u);
  EXPECT_FALSE(w.contains("p-5"));
  EXPECT_TRUE(w.contains("p-4"));
  EXPECT_TRUE(w.contains("p-6"));
  w.insert("p-5");
  EXPECT_TRUE(w.contains("p-5"));
  EXPECT_EQ(w.size(), 10u);
  w.insert("x y");
  w.erase("x y");
  EXPECT_FALSE(w.contains("x y"));
  EXPECT_EQ(w.size(), 10u);
}

TEST(IdWindow, OutOfOrderIdsMergeIntoRanges) {
  IdWindow w(1000);
  for (int i : {5, 3, 4, 1, 2, 9, 7, 8, 6}) w.insert("p-" + std::to_string(i));
  for (int i = 1; i <= 9; ++i) EXPECT_TRUE(w.contains("p-" + std::to_string(i))) << i;
  EXPECT_EQ(w.size(), 9u);
  EXPECT_EQ(all(w).size(), 9u);
}

TEST(IdWindow, AMillionConsecutiveIdsTakeLittleMemoryAndEvictCorrectly) {
  IdWindow w(1'000'000);
  for (uint64_t i = 1; i <= 1'500'000; ++i) w.insert("0123456789abcdef-" + std::to_string(i));
  EXPECT_EQ(w.size(), 1'000'000u);
  EXPECT_FALSE(w.contains("0123456789abcdef-500000"));
  EXPECT_TRUE(w.contains("0123456789abcdef-500001"));
  EXPECT_TRUE(w.contains("0123456789abcdef-1500000"));
}

TEST(IdWindow, ZeroCapacityRemembersNothing) {
  IdWindow w(0);
  w.insert("p-1");
  EXPECT_FALSE(w.contains("p-1"));
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace logship

namespace logship {
namespace {

TEST(IdWindow, RunsAreTheConsecutiveIdsStillInTheWindowOldestFirst) {
  IdWindow w(100);
  for (int i = 1; i <= 5; ++i) w.insert("a-" + std::to_string(i));
  w.insert("raw id");
  w.insert("b-7");
  w.erase("a-3");
  std::vector<std::string> runs;
  w.forEachRun([&](const RecordIdRef& first, uint64_t count) {
    std::string id;
    appendRecordId(id, first);
    runs.push_back(id + " x" + std::to_string(count));
  });
  EXPECT_EQ(runs, (std::vector<std::string>{"a-1 x2", "a-4 x2", "raw id x1", "b-7 x1"}));
}

}  // namespace
}  // namespace logship

// insertRun and containsAny: a run of consecutive ids at once, as a batch of our producer's records.
namespace logship {
namespace {

std::string id(const char* prefix, uint64_t n) { return std::string(prefix) + "-" + std::to_string(n); }

// The window's whole state as forEachRun shows it: its runs, oldest first, and its size.
std::string state(const IdWindow& w) {
  std::string out = "size " + std::to_string(w.size()) + ":";
  w.forEachRun([&](const RecordIdRef& first, uint64_t count) {
    out += ' ';
    appendRecordId(out, first);
    out += "x" + std::to_string(count);
  });
  return out;
}

RecordIdRef numbered(std::string_view prefix, uint64_t n) {
  RecordIdRef id;
  id.prefix = prefix;
  id.n = n;
  return id;
}

// insertRun on one window, one insert per id on another: the same state after.
void expectRunAsPerId(IdWindow& byRun, IdWindow& byId, const std::string& prefix, uint64_t first, uint64_t count) {
  byRun.insertRun(numbered(prefix, first), count);
  for (uint64_t i = 0; i < count; ++i) byId.insert(numbered(prefix, first + i));  // + i wraps as DecodedMessage's
  EXPECT_EQ(state(byRun), state(byId)) << prefix << "-" << first << " x" << count;
}

TEST(IdWindowRuns, ContainsAnyLooksAtTheWholeRun) {
  IdWindow w(100);
  for (uint64_t i = 10; i <= 19; ++i) w.insert(id("a", i));
  w.erase("a-15");
  w.insert("raw id");
  EXPECT_FALSE(w.containsAny(recordIdRef("a-1"), 9));     // 1..9: just before
  EXPECT_TRUE(w.containsAny(recordIdRef("a-1"), 10));     // 1..10: the first one
  EXPECT_TRUE(w.containsAny(recordIdRef("a-19"), 5));     // the last one
  EXPECT_FALSE(w.containsAny(recordIdRef("a-20"), 100));  // just after
  EXPECT_FALSE(w.containsAny(recordIdRef("a-15"), 1));    // the gap
  EXPECT_TRUE(w.containsAny(recordIdRef("a-15"), 2));
  EXPECT_FALSE(w.containsAny(recordIdRef("b-10"), 10));  // another prefix
  EXPECT_FALSE(w.containsAny(recordIdRef("a-12"), 0));
  EXPECT_TRUE(w.containsAny(recordIdRef("raw id"), 1));
  EXPECT_FALSE(w.containsAny(recordIdRef("other raw"), 1));
  // Numbers that wrap past 2^64 - 1 (as DecodedMessage::id's first.n + i would).
  w.insert("a-3");
  EXPECT_TRUE(w.containsAny(numbered("a", UINT64_MAX - 1), 6));  // ..max, 0, 1, 2, 3
  EXPECT_FALSE(w.containsAny(numbered("a", UINT64_MAX - 1), 5));
}

TEST(IdWindowRuns, ARunNewToTheWindowIsOneRunOfItsPrefix) {
  IdWindow w(1000);
  w.insertRun(recordIdRef("a-1"), 500);
  w.insertRun(recordIdRef("a-501"), 500);  // extends the run before
  EXPECT_EQ(state(w), "size 1000: a-1x1000");
  for (const uint64_t n : {1u, 500u, 501u, 1000u}) EXPECT_TRUE(w.contains(id("a", n))) << n;
  EXPECT_FALSE(w.contains("a-1001"));
  w.insertRun(recordIdRef("a-1001"), 300);  // past capacity: the oldest 300 leave, at once
  EXPECT_EQ(state(w), "size 1000: a-301x1000");
  EXPECT_FALSE(w.contains("a-300"));
  EXPECT_TRUE(w.contains("a-301"));
}

TEST(IdWindowRuns, EveryKindOfRunEndsAsOneInsertPerId) {
  IdWindow byRun(20), byId(20);
  expectRunAsPerId(byRun, byId, "a", 1, 8);                // new
  expectRunAsPerId(byRun, byId, "b", 100, 5);              // another prefix between
  expectRunAsPerId(byRun, byId, "a", 9, 4);                // the prefix again, its numbers going on: a new run
  expectRunAsPerId(byRun, byId, "a", 11, 6);               // overlaps the end of the window's (11, 12 there)
  expectRunAsPerId(byRun, byId, "a", 5, 3);                // entirely in the window: nothing changes
  expectRunAsPerId(byRun, byId, "a", 30, 4);               // a gap after the last one
  expectRunAsPerId(byRun, byId, "a", 20, 15);              // overlaps a run in the middle, past capacity
  expectRunAsPerId(byRun, byId, "c", 1, 1);                // one id
  expectRunAsPerId(byRun, byId, "c", 2, 0);                // none
  expectRunAsPerId(byRun, byId, "c", 3, 45);               // more than the capacity: only its newest stay
  expectRunAsPerId(byRun, byId, "a", UINT64_MAX - 5, 10);  // numbers that wrap
  byRun.insertRun(recordIdRef("raw id"), 1);               // a raw id: a run of one
  byId.insert("raw id");
  EXPECT_EQ(state(byRun), state(byId));
  EXPECT_TRUE(byRun.contains("raw id"));
  EXPECT_EQ(byRun.size(), 20u);
}

TEST(IdWindowRuns, EvictionCountsOnlyTheIdsStillInTheWindow) {
  // The oldest run has holes (ids erased: not written after all); an id leaving counts only when it
  // is there, so more of the run goes than the ids inserted. a-3, erased and inserted again, still
  // leaves from its first place (as one insert per id has it).
  IdWindow byRun(10), byId(10);
  for (IdWindow* w : {&byRun, &byId}) {
    w->insertRun(recordIdRef("a-1"), 10);
    for (const char* gone : {"a-2", "a-3", "a-6"}) w->erase(gone);
    w->insert("a-3");  // back, as the newest, while the old run still names it
  }
  EXPECT_EQ(byRun.size(), 8u);
  expectRunAsPerId(byRun, byId, "b", 1, 4);  // 2 over: a-1 and a-3 leave, a-2 (not there) between
  EXPECT_FALSE(byRun.contains("a-1"));
  EXPECT_FALSE(byRun.contains("a-3"));
  EXPECT_TRUE(byRun.contains("a-4"));
  expectRunAsPerId(byRun, byId, "b", 5, 9);  // 9 over: a-4 to a-10 (6 there), a-3's run, b-1 to b-3
  EXPECT_EQ(state(byRun), "size 10: b-4x10");
}

// The per-id semantics, written out naively: ids in arrival order, each leaving (when still there)
// in that order; a raw id leaves only from its latest place (an erased and re-inserted one stays).
class NaiveWindow {
 public:
  explicit NaiveWindow(size_t capacity) : capacity_(capacity) {}
  void insert(const std::string& id) {
    if (capacity_ == 0 || present_.count(id) > 0) return;
    fifo_.emplace_back(id, ++seq_);
    present_[id] = seq_;
    while (present_.size() > capacity_ && !fifo_.empty()) {
      const auto [old, at] = fifo_.front();
      fifo_.pop_front();
      const auto it = present_.find(old);
      const bool raw = old.find('-') == std::string::npos;
      if (it != present_.end() && (!raw || it->second == at)) present_.erase(it);
    }
  }
  void erase(const std::string& id) { present_.erase(id); }
  bool contains(const std::string& id) const { return present_.count(id) > 0; }
  size_t size() const { return present_.size(); }

 private:
  size_t capacity_;
  uint64_t seq_ = 0;
  std::deque<std::pair<std::string, uint64_t>> fifo_;
  std::map<std::string, uint64_t> present_;
};

TEST(IdWindowRuns, RandomRunsGapsAndPrefixesMatchOneInsertPerIdAndTheNaiveWindow) {
  std::mt19937 rng(21);
  for (const size_t capacity : {1u, 7u, 50u}) {
    IdWindow byRun(capacity), byId(capacity);
    NaiveWindow naive(capacity);
    const char* prefixes[] = {"a", "b", "c-d"};
    for (int step = 0; step < 3000; ++step) {
      const std::string prefix = prefixes[rng() % 3];
      const uint64_t first = rng() % 120;
      const uint64_t count = rng() % 4 == 0 ? rng() % 3 : rng() % 40;
      switch (rng() % 5) {
        case 0:  // an id erased (not written after all)
          for (IdWindow* w : {&byRun, &byId}) w->erase(id(prefix.c_str(), first));
          naive.erase(id(prefix.c_str(), first));
          break;
        case 1: {  // a raw id
          const std::string raw = "raw" + std::to_string(first % 10);
          byRun.insertRun(recordIdRef(raw), 1);
          byId.insert(raw);
          naive.insert(raw);
          break;
        }
        default:
          expectRunAsPerId(byRun, byId, prefix, first, count);
          for (uint64_t i = 0; i < count; ++i) naive.insert(id(prefix.c_str(), first + i));
      }
      ASSERT_EQ(byRun.size(), naive.size()) << "capacity " << capacity << ", step " << step;
      for (const char* p : prefixes) {
        for (uint64_t n = 0; n < 160; ++n) {
          ASSERT_EQ(byRun.contains(id(p, n)), naive.contains(id(p, n))) << id(p, n) << ", step " << step;
        }
        ASSERT_EQ(byRun.containsAny(recordIdRef(id(p, first)), count),
                  [&] {
                    for (uint64_t i = 0; i < count; ++i) {
                      if (naive.contains(id(p, first + i))) return true;
                    }
                    return false;
                  }())
            << p << "-" << first << " x" << count;
      }
      for (int r = 0; r < 10; ++r)
        ASSERT_EQ(byRun.contains("raw" + std::to_string(r)), naive.contains("raw" + std::to_string(r)));
    }
  }
}

}  // namespace
}  // namespace logship
