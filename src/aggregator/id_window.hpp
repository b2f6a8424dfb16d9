#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/message.hpp"

namespace logship {

// The most recent `capacity` record ids written to an output, for duplicate suppression.
//
// Our producers' ids are "<instance>-<n>" with n counting up, so the ids of one producer arrive in
// long consecutive runs. They are kept as ranges per instance (a few dozen bytes per run of
// consecutive ids instead of ~120 bytes per id): a million ids from a handful of producers take
// kilobytes. Any other id (other clients) is kept as a string. Oldest first, ids leave the window
// when it is over capacity.
class IdWindow {
 public:
  explicit IdWindow(size_t capacity) : capacity_(capacity) {}
  IdWindow(const IdWindow&) = delete;
  IdWindow& operator=(const IdWindow&) = delete;

  bool contains(std::string_view id) const { return contains(recordIdRef(id)); }
  bool contains(const RecordIdRef& id) const;
  // Adds `id` as the newest (nothing if it is in the window already); the oldest leave past capacity.
  void insert(std::string_view id) { insert(recordIdRef(id)); }
  void insert(const RecordIdRef& id);
  // The same per run of ids, as a batch of our producer's records has them: `count` ids with first's
  // prefix and consecutive numbers from first.n (first.n + i, as DecodedMessage::id numbers them;
  // count 1 for a raw id). containsAny: whether any of them is in the window, one lookup.
  // insertRun: the same as insert() of each in turn, the window ends up exactly as after those; one
  // range operation and one eviction pass when none of them is in the window yet (the usual case),
  // else one insert per id.
  bool containsAny(const RecordIdRef& first, uint64_t count) const;
  void insertRun(const RecordIdRef& first, uint64_t count);
  // Takes `id` out of the window (it was not written after all).
  void erase(std::string_view id) { erase(recordIdRef(id)); }
  void erase(const RecordIdRef& id);
  size_t size() const { return size_; }
  void clear();
  // Calls f for every id in the window, oldest first.
  void forEach(const std::function<void(std::string_view)>& f) const;
  // The same as runs: f(first id, count) for `count` ids with first's prefix and consecutive
  // numbers from first.n (count 1 for a raw id), oldest first.
  void forEachRun(const std::function<void(const RecordIdRef&, uint64_t)>& f) const;

  // Splits "<prefix>-<n>" (n decimal, no leading zero, fits 64 bits); false for other ids.
  static bool split(std::string_view id, std::string_view& prefix, uint64_t& n) { return splitRecordId(id, prefix, n); }

 private:
  using Ranges = std::map<uint64_t, uint64_t>;  // first -> last (inclusive), disjoint, not adjacent
  struct Run {
    const std::string* prefix;  // key in prefixes_; nullptr: a raw id
    uint64_t first;
    uint64_t last;
    std::string raw;
  };
  static bool rangesContain(const Ranges& r, uint64_t n);
  static bool rangesOverlap(const Ranges& r, uint64_t from, uint64_t to);  // any of [from, to] in r
  static void rangesInsert(Ranges& r, uint64_t from, uint64_t to);         // [from, to], none of it in r yet
  static uint64_t rangesErase(Ranges& r, uint64_t from, uint64_t to);      // what of [from, to] is in r: how many
  // Adds the ids [first, last] of `prefix`, none of them in the window yet, as the newest: the
  // prefix's ranges, and its run at the back of fifo_ extended (when it ends just before `first`)
  // or a new run.
  void append(std::string_view prefix, uint64_t first, uint64_t last);
  void evict();           // the oldest ids leave until size_ <= capacity_
  void evictRaw();        // the front run, a raw id
  void evictFromFront();  // the oldest ids of the front run (numbered ids), as many as evict() needs
  struct Prefix;
  // The entry of `prefix` (nullptr if none): consecutive ids mostly share it, so the last one
  // found is remembered and compared before hashing.
  Prefix* findPrefix(std::string_view prefix) const;

  size_t capacity_;
  size_t size_ = 0;
  struct Prefix {
    Ranges ranges;
    size_t runs = 0;  // runs in fifo_ that point at this prefix
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Prefix, Hash, std::equal_to<>> prefixes_;
  mutable const std::string* lastKey_ = nullptr;  // findPrefix's memory (a key in prefixes_)
  mutable Prefix* last_ = nullptr;
  std::unordered_set<std::string_view> raw_;  // views of Run::raw in fifo_ (deque elements do not move)
  std::deque<Run> fifo_;
};

}  // namespace logship
