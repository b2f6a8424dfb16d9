// The duplicate-suppression window (aggregator/id_window.hpp): ranges of consecutive ids per
// producer instance, raw strings for other ids, oldest out first.
#include "aggregator/id_window.hpp"

#include <string>
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
