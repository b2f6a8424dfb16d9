#pragma once
// The checkpoint of an input that persists positions (followed files, docs/RELIABILITY.md): which
// file offsets become safe to save once the Shipper has settled the records handed over before
// them (Shipper::settledInput()). Pure logic.
#include <cstddef>
#include <cstdint>
#include <deque>

namespace logship {

class CheckpointMarks {
 public:
  struct Mark {
    uint64_t inputEnd = 0;    // Shipper::handedOver() when the mark was made
    uint64_t file = 0;        // the input's number for the file
    uint64_t generation = 0;  // the file's content generation (bumped when it is truncated)
    uint64_t offset = 0;      // everything before it was handed over, or carries no record
    uint64_t line = 0;        // the number of the line at `offset` (record ids, follow_state.hpp)
  };

  // Notes that `file` may resume at `offset` once the first `inputEnd` records are settled.
  // `inputEnd` never decreases from one call to the next. A mark of the same file (and generation)
  // as the last one replaces it when no record was handed over in between, or when many marks are
  // waiting (memory stays bounded; the checkpoint then advances a little later, never wrongly).
  void add(uint64_t inputEnd, uint64_t file, uint64_t generation, uint64_t offset, uint64_t line) {
    if (!marks_.empty()) {
      Mark& last = marks_.back();
      if (last.file == file && last.generation == generation &&
          (last.inputEnd == inputEnd || marks_.size() >= kCoalesceAbove)) {
        last.inputEnd = inputEnd;
        last.offset = offset;
        last.line = line;
        return;
      }
    }
    marks_.push_back({inputEnd, file, generation, offset, line});
  }

  // Removes the marks that `settled` covers, oldest first, calling apply(const Mark&) for each.
  template <class Apply>
  void settle(uint64_t settled, Apply&& apply) {
    while (!marks_.empty() && marks_.front().inputEnd <= settled) {
      apply(marks_.front());
      marks_.pop_front();
    }
  }

  size_t size() const { return marks_.size(); }
  bool empty() const { return marks_.empty(); }

  static constexpr size_t kCoalesceAbove = 4096;

 private:
  std::deque<Mark> marks_;
};

}  // namespace logship
