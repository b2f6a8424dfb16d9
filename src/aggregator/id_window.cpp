#include "aggregator/id_window.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace logship {

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

void IdWindow::rangesInsert(Ranges& r, uint64_t n) {
  auto next = r.upper_bound(n);
  if (next != r.begin()) {
    auto prev = std::prev(next);
    if (n <= prev->second) return;
    if (prev->second + 1 == n) {
      prev->second = n;
      if (next != r.end() && next->first == n + 1) {
        prev->second = next->second;
        r.erase(next);
      }
      return;
    }
  }
  if (next != r.end() && next->first == n + 1) {
    const uint64_t last = next->second;
    r.erase(next);
    r.emplace(n, last);
    return;
  }
  r.emplace(n, n);
}

bool IdWindow::rangesErase(Ranges& r, uint64_t n) {
  auto it = r.upper_bound(n);
  if (it == r.begin()) return false;
  --it;
  if (n > it->second) return false;
  const uint64_t first = it->first;
  const uint64_t last = it->second;
  if (first == n && n < last) {
    // The oldest id of a run leaves (eviction, the common case): move the node's key up by one
    // instead of allocating a new node.
    auto node = r.extract(it);
    node.key() = n + 1;
    r.insert(std::move(node));
    return true;
  }
  if (n == last && first < n) {
    it->second = n - 1;
    return true;
  }
  r.erase(it);
  if (first < n) r.emplace(first, n - 1);
  if (n < last) r.emplace(n + 1, last);
  return true;
}

bool IdWindow::contains(const RecordIdRef& id) const {
  if (!id.prefix.empty()) {
    const Prefix* p = findPrefix(id.prefix);
    return p != nullptr && rangesContain(p->ranges, id.n);
  }
  return !id.raw.empty() && raw_.count(id.raw) > 0;
}

void IdWindow::insert(const RecordIdRef& id) {
  if (capacity_ == 0 || id.empty()) return;
  if (!id.prefix.empty()) {
    Prefix* p = findPrefix(id.prefix);  // looked up once: the hot path of every record written
    if (p != nullptr && rangesContain(p->ranges, id.n)) return;
    if (p == nullptr) {
      const auto it = prefixes_.try_emplace(std::string(id.prefix)).first;
      lastKey_ = &it->first;
      last_ = p = &it->second;
    }
    rangesInsert(p->ranges, id.n);
    if (!fifo_.empty() && fifo_.back().prefix == lastKey_ && fifo_.back().last + 1 == id.n) {
      fifo_.back().last = id.n;
    } else {
      fifo_.push_back(Run{lastKey_, id.n, id.n, {}});
      ++p->runs;
    }
  } else {
    if (raw_.count(id.raw) > 0) return;
    fifo_.push_back(Run{nullptr, 0, 0, std::string(id.raw)});
    raw_.insert(fifo_.back().raw);
  }
  ++size_;
  while (size_ > capacity_ && !fifo_.empty()) evictOne();
}

void IdWindow::evictOne() {
  Run& run = fifo_.front();
  if (run.prefix == nullptr) {
    const auto it = raw_.find(run.raw);
    if (it != raw_.end() && it->data() == run.raw.data()) {  // not erased and inserted again since
      raw_.erase(it);
      --size_;
    }
    fifo_.pop_front();
    return;
  }
  auto p = prefixes_.find(*run.prefix);
  if (rangesErase(p->second.ranges, run.first)) --size_;
  if (run.first == run.last) {
    fifo_.pop_front();
    if (--p->second.runs == 0) {  // no run left: its ranges are empty too
      if (lastKey_ == &p->first) lastKey_ = nullptr, last_ = nullptr;
      prefixes_.erase(p);
    }
  } else {
    ++run.first;
  }
}

void IdWindow::erase(const RecordIdRef& id) {
  if (!id.prefix.empty()) {
    Prefix* p = findPrefix(id.prefix);
    if (p != nullptr && rangesErase(p->ranges, id.n)) --size_;
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
    const Ranges& ranges = prefixes_.find(*run.prefix)->second.ranges;
    auto r = ranges.upper_bound(run.first);
    if (r != ranges.begin()) --r;
    for (; r != ranges.end() && r->first <= run.last; ++r) {
      const uint64_t from = std::max(r->first, run.first);
      const uint64_t to = std::min(r->second, run.last);
      if (from > to) continue;
      RecordIdRef id;
      id.prefix = *run.prefix;
      id.n = from;
      f(id, to - from + 1);
    }
  }
}

}  // namespace logship
