#include "aggregator/id_window.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/message.hpp"

namespace logship {

bool IdWindow::split(std::string_view id, std::string_view& prefix, uint64_t& n) {
  return splitRecordId(id, prefix, n);
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
  r.erase(it);
  if (first < n) r.emplace(first, n - 1);
  if (n < last) r.emplace(n + 1, last);
  return true;
}

bool IdWindow::contains(std::string_view id) const {
  std::string_view prefix;
  uint64_t n = 0;
  if (split(id, prefix, n)) {
    const auto it = prefixes_.find(prefix);
    return it != prefixes_.end() && rangesContain(it->second.ranges, n);
  }
  return raw_.count(id) > 0;
}

void IdWindow::insert(std::string_view id) {
  if (capacity_ == 0 || contains(id)) return;
  std::string_view prefix;
  uint64_t n = 0;
  if (split(id, prefix, n)) {
    auto it = prefixes_.find(prefix);
    if (it == prefixes_.end()) it = prefixes_.try_emplace(std::string(prefix)).first;
    rangesInsert(it->second.ranges, n);
    if (!fifo_.empty() && fifo_.back().prefix == &it->first && fifo_.back().last + 1 == n) {
      fifo_.back().last = n;
    } else {
      fifo_.push_back(Run{&it->first, n, n, {}});
      ++it->second.runs;
    }
  } else {
    fifo_.push_back(Run{nullptr, 0, 0, std::string(id)});
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
    if (--p->second.runs == 0) prefixes_.erase(p);  // no run left: its ranges are empty too
  } else {
    ++run.first;
  }
}

void IdWindow::erase(std::string_view id) {
  std::string_view prefix;
  uint64_t n = 0;
  if (split(id, prefix, n)) {
    const auto it = prefixes_.find(prefix);
    if (it != prefixes_.end() && rangesErase(it->second.ranges, n)) --size_;
    return;
  }
  if (raw_.erase(id) > 0) --size_;
}

void IdWindow::clear() {
  fifo_.clear();
  raw_.clear();
  prefixes_.clear();
  size_ = 0;
}

void IdWindow::forEach(const std::function<void(std::string_view)>& f) const {
  std::string id;
  std::unordered_set<std::string_view> rawSeen;
  for (const Run& run : fifo_) {
    if (run.prefix == nullptr) {
      const auto it = raw_.find(run.raw);
      if (it != raw_.end() && it->data() == run.raw.data()) f(run.raw);
      continue;
    }
    const auto p = prefixes_.find(*run.prefix);
    for (uint64_t n = run.first;; ++n) {
      if (rangesContain(p->second.ranges, n)) {
        id.assign(*run.prefix);
        id += '-';
        fmt::format_to(std::back_inserter(id), "{}", n);
        f(id);
      }
      if (n == run.last) break;
    }
  }
}

}  // namespace logship
