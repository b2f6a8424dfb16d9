#include "client/record_queue.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace logship {

RecordQueue::Pushed RecordQueue::push(QueuedRecord&& record) {
  std::unique_lock lock(mu_);
  auto fits = [&] {
    return heldRecords_ == 0 || (heldRecords_ < limits_.records && heldBytes_ + record.bytes <= limits_.bytes);
  };
  if (!closed_ && !fits() && limits_.block) {
    spaceCv_.wait(lock, [&] { return closed_ || fits(); });
  }
  if (closed_ || !fits()) {
    ++refused_;
    return closed_ ? Pushed::Closed : Pushed::Full;
  }
  heldRecords_ += 1;
  heldBytes_ += record.bytes;
  ++accepted_;
  queued_.push_back(std::move(record));
  const bool notify = takerWaiting_;
  lock.unlock();
  if (notify) dataCv_.notify_one();
  return Pushed::Queued;
}

void RecordQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  spaceCv_.notify_all();
}

size_t RecordQueue::takeAll(std::vector<QueuedRecord>& out, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (queued_.empty() && !woken_ && wait.count() > 0) {
    takerWaiting_ = true;
    dataCv_.wait_for(lock, wait, [&] { return !queued_.empty() || woken_; });
    takerWaiting_ = false;
  }
  woken_ = false;
  const size_t n = queued_.size();
  if (n == 0) return 0;
  if (out.empty()) {
    out.swap(queued_);  // O(1): the caller's empty vector, with its capacity, takes the queue's place
  } else {
    out.insert(out.end(), std::make_move_iterator(queued_.begin()), std::make_move_iterator(queued_.end()));
    queued_.clear();
  }
  return n;
}

void RecordQueue::release(size_t records, size_t bytes) {
  if (records == 0) return;
  {
    std::lock_guard lock(mu_);
    heldRecords_ -= std::min(records, heldRecords_);
    heldBytes_ -= std::min(bytes, heldBytes_);
  }
  if (limits_.block) spaceCv_.notify_all();
}

void RecordQueue::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  dataCv_.notify_one();
}

uint64_t RecordQueue::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

uint64_t RecordQueue::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

size_t RecordQueue::queued() const {
  std::lock_guard lock(mu_);
  return queued_.size();
}

size_t RecordQueue::heldRecords() const {
  std::lock_guard lock(mu_);
  return heldRecords_;
}

size_t RecordQueue::heldBytes() const {
  std::lock_guard lock(mu_);
  return heldBytes_;
}

}  // namespace logship
