#include "aggregator/id_window.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace logship {
namespace {

// Calls f(from, to) for each part [from, to] of [first, last] that `ranges` (first -> last, disjoint)
// hold, lowest first, until f returns false.
template <typename Ranges, typename F>
void forEachPartIn(const Ranges& ranges, uint64_t first, uint64_t last, F f) {
  auto r = ranges.upper_bound(first);
  if (r != ranges.begin()) --r;
  for (; r != ranges.end() && r->first <= last; ++r) {
    const uint64_t from = std::max(r->first, first);
    const uint64_t to = std::min(r->second, last);
    if (from <= to && !f(from, to)) return;
  }
}

}  // namespace

IdWindow::Prefix* IdWindow::findPrefix(std::string_view prefix) const {
  if (lastKey_ != nullptr && *lastKey_ == prefix) return last_;
  const auto it = prefixes_.find(prefix);
  if (it == prefixes_.end()) return nullptr;
  lastKey_ = &it->first;
  last_ = const_cast<Prefix*>(&it->second);
  return last_;
}

bool IdWindow::rangesContain(const Ranges& r, uint64_t n) {
  auto it = r.upper_bound(n);
  if (it == r.begin()) return false;
  --it;
  return n <= it->second;
}

bool IdWindow::rangesOverlap(const Ranges& r, uint64_t from, uint64_t to) {
  auto it = r.upper_bound(to);
  if (it == r.begin()) return false;
  --it;
  return it->second >= from;
}

void IdWindow::rangesInsert(Ranges& r, uint64_t from, uint64_t to) {
  // None of [from, to] is in r: the range before it ends before `from`, the one after starts past `to`.
  auto next = r.upper_bound(from);
  const bool joinsNext = next != r.end() && next->first == to + 1;
  if (next != r.begin()) {
    auto prev = std::prev(next);
    if (prev->second + 1 == from) {
      prev->second = joinsNext ? next->second : to;
      if (joinsNext) r.erase(next);
      return;
    }
  }
  if (joinsNext) {  // the range after starts earlier now: move its node's key (no allocation)
    auto node = r.extract(next);
    node.key() = from;
    r.insert(std::move(node));
    return;
  }
  r.emplace_hint(next, from, to);
}

uint64_t IdWindow::rangesErase(Ranges& r, uint64_t from, uint64_t to) {
  uint64_t removed = 0;
  auto it = r.upper_bound(from);
  if (it != r.begin() && std::prev(it)->second >= from) --it;
  while (it != r.end() && it->first <= to) {
    const uint64_t first = it->first;
    const uint64_t last = it->second;
    removed += std::min(last, to) - std::max(first, from) + 1;
    if (first < from) {  // its head stays
      it->second = from - 1;
      if (last > to) {
        r.emplace_hint(std::next(it), to + 1, last);
        break;
      }
      ++it;
    } else if (last > to) {
      // Its tail stays (eviction, the common case: the oldest ids of a run leave): move the node's
      // key up instead of allocating a new node.
      auto node = r.extract(it);
      node.key() = to + 1;
      r.insert(std::move(node));
      break;
    } else {
      it = r.erase(it);
    }
  }
  return removed;
}

bool IdWindow::contains(const RecordIdRef& id) const {
  if (!id.prefix.empty()) {
    const Prefix* p = findPrefix(id.prefix);
    return p != nullptr && rangesContain(p->ranges, id.n);
  }
  return !id.raw.empty() && raw_.count(id.raw) > 0;
}

bool IdWindow::containsAny(const RecordIdRef& first, uint64_t count) const {
  if (count == 0) return false;
  if (first.prefix.empty()) return contains(first);
  const Prefix* p = findPrefix(first.prefix);
  if (p == nullptr) return false;
  const uint64_t last = first.n + (count - 1);
  if (last < first.n) {  // the numbers wrap past 2^64 - 1 (as first.n + i does)
    return rangesOverlap(p->ranges, first.n, UINT64_MAX) || rangesOverlap(p->ranges, 0, last);
  }
  return rangesOverlap(p->ranges, first.n, last);
}

void IdWindow::append(std::string_view prefix, uint64_t first, uint64_t last) {
  Prefix* p = findPrefix(prefix);  // cached: the caller has just looked it up
  if (p == nullptr) {
    const auto it = prefixes_.try_emplace(std::string(prefix)).first;
    lastKey_ = &it->first;
    last_ = p = &it->second;
  }
  rangesInsert(p->ranges, first, last);
  if (!fifo_.empty() && fifo_.back().prefix == lastKey_ && fifo_.back().last + 1 == first) {
    fifo_.back().last = last;
  } else {
    fifo_.push_back(Run{lastKey_, first, last, {}});
    ++p->runs;
  }
  size_ += last - first + 1;
}

void IdWindow::insert(const RecordIdRef& id) {
  if (capacity_ == 0 || id.empty()) return;
  if (!id.prefix.empty()) {
    const Prefix* p = findPrefix(id.prefix);  // the hot path of every record written
    if (p != nullptr && rangesContain(p->ranges, id.n)) return;
    append(id.prefix, id.n, id.n);
  } else {
    if (raw_.count(id.raw) > 0) return;
    fifo_.push_back(Run{nullptr, 0, 0, std::string(id.raw)});
    raw_.insert(fifo_.back().raw);
    ++size_;
  }
  evict();
}

void IdWindow::insertRun(const RecordIdRef& first, uint64_t count) {
  const uint64_t last = first.n + (count - 1);
  if (count <= 1 || first.prefix.empty() || last < first.n || capacity_ == 0 || containsAny(first, count)) {
    RecordIdRef id = first;
    for (uint64_t i = 0; i < count; ++i, ++id.n) insert(id);
    return;
  }
  // As `count` inserts: none is in the window, so each would extend the run the one before started,
  // and evicting once at the end takes the same oldest ids out as evicting after each.
  append(first.prefix, first.n, last);
  evict();
}

void IdWindow::evict() {
  while (size_ > capacity_ && !fifo_.empty()) {
    if (fifo_.front().prefix == nullptr) {
      evictRaw();
    } else {
      evictFromFront();
    }
  }
}

void IdWindow::evictRaw() {
  const Run& run = fifo_.front();
  const auto it = raw_.find(run.raw);
  if (it != raw_.end() && it->data() == run.raw.data()) {  // not erased and inserted again since
    raw_.erase(it);
    --size_;
  }
  fifo_.pop_front();
}

void IdWindow::evictFromFront() {
  Run& run = fifo_.front();
  const auto p = prefixes_.find(*run.prefix);
  Ranges& ranges = p->second.ranges;
  // One id at a time from run.first, each one still in the window counting, until `need` have left:
  // the ids of the run still in the window are the parts of the ranges that overlap it.
  const uint64_t need = size_ - capacity_;
  uint64_t taken = 0;
  uint64_t upto = run.last;  // the run's ids up to this one leave it
  forEachPartIn(ranges, run.first, run.last, [&](uint64_t from, uint64_t to) {
    if (to - from < need - taken - 1) {
      taken += to - from + 1;
      return true;
    }
    upto = from + (need - taken - 1);  // this part holds the last one needed
    return false;
  });
  size_ -= rangesErase(ranges, run.first, upto);  // need ids, or fewer when the run ends first
  if (upto < run.last) {
    run.first = upto + 1;
    return;
  }
  fifo_.pop_front();
  if (--p->second.runs == 0) {  // no run left: its ranges are empty too
    if (lastKey_ == &p->first) lastKey_ = nullptr, last_ = nullptr;
    prefixes_.erase(p);
  }
}

void IdWindow::erase(const RecordIdRef& id) {
  if (!id.prefix.empty()) {
    Prefix* p = findPrefix(id.prefix);
    if (p != nullptr && rangesErase(p->ranges, id.n, id.n) > 0) --size_;
    return;
  }
  if (!id.raw.empty() && raw_.erase(id.raw) > 0) --size_;
}

void IdWindow::clear() {
  fifo_.clear();
  raw_.clear();
  prefixes_.clear();
  lastKey_ = nullptr;
  last_ = nullptr;
  size_ = 0;
}

void IdWindow::forEach(const std::function<void(std::string_view)>& f) const {
  std::string id;
  forEachRun([&](const RecordIdRef& first, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
      id.clear();
      RecordIdRef one = first;
      one.n = first.n + i;
      appendRecordId(id, one);
      f(id);
    }
  });
}

void IdWindow::forEachRun(const std::function<void(const RecordIdRef&, uint64_t)>& f) const {
  for (const Run& run : fifo_) {
    if (run.prefix == nullptr) {
      const auto it = raw_.find(run.raw);
      if (it != raw_.end() && it->data() == run.raw.data()) {
        RecordIdRef id;
        id.raw = run.raw;
        f(id, 1);
      }
      continue;
    }
    // The parts of [first, last] still in the window: the ranges that overlap it.
    forEachPartIn(prefixes_.find(*run.prefix)->second.ranges, run.first, run.last, [&](uint64_t from, uint64_t to) {
      RecordIdRef id;
      id.prefix = *run.prefix;
      id.n = from;
      f(id, to - from + 1);
      return true;
    });
  }
}

}  // namespace logship
