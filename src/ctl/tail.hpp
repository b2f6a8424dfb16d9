#pragma once
// The parts of `logctl tail` that are pure logic (unit-tested): the filter and the count of
// records a tail missed.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/record.hpp"

namespace logship::ctl {

// What a tail shows: records at minLevel or above, of one of `services` (any when empty), from one
// of `hosts` (any when empty; each a name or a glob, matched with fnmatch like a route's host=).
struct TailFilter {
  Level minLevel = Level::Trace;
  std::vector<std::string> services;
  std::vector<std::string> hosts;
  bool matches(const Record& r) const;
};

// True when `name` is one of `patterns` (names or fnmatch globs: * ? [...]), or `patterns` is empty.
bool matchesAnyHost(const std::vector<std::string>& patterns, const std::string& name);

// Throws UsageError unless `name` can be a --service: 1 or more bytes, no control characters.
void validateServiceName(const std::string& name);

// Counts the records a tail did not see. Our producers number their records "<instance>-<n>" with n
// counting up by one, and a tail gets a producer's records in order (a producer's records are all
// selected or none: one service and level per producer), so a jump from n to n + k means k - 1
// records were dropped for the tail (RabbitMQ: by its capped queue; Redis: while the server had
// disconnected it). Ids that go back (a producer sending again after a reconnect), ids of other
// forms and a followed file's ids ("file-<stream>-<line>": line numbers, docs/FORMATS.md) count
// nothing.
class RecordGaps {
 public:
  // Notes the id of a record the tail received; returns the records it skipped.
  uint64_t note(std::string_view id);
  uint64_t missed() const { return missed_; }

 private:
  static constexpr size_t kMaxInstances = 100'000;  // then forgotten and learnt again (no false count)
  std::unordered_map<std::string, uint64_t> next_;  // instance -> the n expected next
  uint64_t missed_ = 0;
};

}  // namespace logship::ctl
