// logctl tail: a live view of the records sent to a queue, in the aggregator's output formats. The
// broker side (a queue of its own bound to the queue's exchange, or a Redis channel) is
// broker/tail.hpp; this file is the terminal side: filters, output, warnings, reconnecting.
#include "ctl/tail.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "broker/factory.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/io.hpp"
#include "core/message.hpp"
#include "core/output_format.hpp"
#include "core/timestamp.hpp"
#include "ctl/commands.hpp"

namespace logship::ctl {

bool matchesAnyHost(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return ::fnmatch(p.c_str(), name.c_str(), 0) == 0; });
}

bool TailFilter::matches(const Record& r) const {
  if (r.level < minLevel) return false;
  if (!services.empty() && std::find(services.begin(), services.end(), r.service) == services.end()) return false;
  return matchesAnyHost(hosts, r.host);
}

void validateServiceName(const std::string& name) {
  const std::string_view problem = recordNameProblem(name);
  if (problem.empty()) return;
  throw UsageError(
      fmt::format("--service '{}': {}: no producer sends such a service (records sent without "
                  "--service have the service '-')",
                  escaped(name), problem));
}

uint64_t RecordGaps::note(std::string_view id) {
  std::string_view instance;
  uint64_t n = 0;
  if (!splitRecordId(id, instance, n)) return 0;
  // A followed file's ids number its lines: an empty line or a multiline record's continuation
  // lines are gaps that drop nothing.
  if (instance.starts_with("file-")) return 0;
  auto it = next_.find(std::string(instance));
  if (it == next_.end()) {
    if (next_.size() >= kMaxInstances) next_.clear();
    next_.emplace(std::string(instance), n + 1);
    return 0;
  }
  uint64_t skipped = 0;
  if (n > it->second) skipped = n - it->second;
  if (n >= it->second) it->second = n + 1;
  missed_ += skipped;
  return skipped;
}

namespace {

// Standard output, written after every batch of messages (a live view). A closed pipe (`| head`)
// ends the tail quietly.
class Output {
 public:
  std::string& buffer() { return buf_; }
  // False when the reader went away.
  bool flush() {
    const bool ok = writeAll(STDOUT_FILENO, buf_);
    const int code = errno;
    buf_.clear();
    if (ok) return true;
    if (code == EPIPE) return false;
    throw Error(fmt::format("cannot write to standard output: {}", std::strerror(code)));
  }

 private:
  std::string buf_;
};

void warn(const std::string& text) { fmt::print(stderr, "logctl: warning: {}\n", text); }

TailOptions tailOptions(const std::string& queue, const TailRequest& request, TailFilter& filter) {
  TailOptions options;
  options.queue = queue;
  if (!request.level.empty()) {
    const auto level = parseLevel(request.level);
    if (!level) {
      throw UsageError(
          fmt::format("--level: unknown level '{}' (trace, debug, info, warn, error, fatal)", escaped(request.level)));
    }
    options.minLevel = *level;
  }
  for (const auto& s : request.services) {
    validateServiceName(s);
    if (std::find(options.services.begin(), options.services.end(), s) == options.services.end()) {
      options.services.push_back(s);
    }
  }
  for (const auto& h : request.hosts) {
    if (h.empty()) throw UsageError("--host: empty name");
  }
  options.maxBacklog = request.backlog;
  filter.hosts = request.hosts;  // the broker cannot select by host: the tail filters
  filter.minLevel = options.minLevel;
  filter.services = options.services;
  return options;
}

}  // namespace

int tail(const BrokerOptions& broker, const std::string& queue, const TailRequest& request) {
  TailFilter filter;
  const TailOptions options = tailOptions(queue, request, filter);
  const auto format = parseOutputFormat(request.format);
  if (!format)
    throw UsageError(fmt::format("--format: unknown format '{}' (text, json, raw)", escaped(request.format)));
  const bool redis = broker.url.isRedis();
  const std::atomic<bool> notStopped{false};
  const std::atomic<bool>& stop = broker.stopRequested != nullptr ? *broker.stopRequested : notStopped;

  std::unique_ptr<TailSubscription> subscription;
  try {
    subscription = makeTail(broker, options);
  } catch (const InterruptedError&) {
    return 0;  // Ctrl-C while waiting for the broker: nothing was subscribed
  }
  fmt::print(stderr, "logctl: tailing '{}' on {}: {}; press Ctrl-C to stop\n", escaped(queue), broker.url.redacted(),
             subscription->describe());
  std::fflush(stderr);

  Output out;
  RecordGaps gaps;
  uint64_t missedShown = 0;
  auto lastMissedWarning = Clock::now() - std::chrono::hours(1);
  auto reportMissed = [&](bool now) {
    if (gaps.missed() == missedShown) return;
    if (!now && Clock::now() - lastMissedWarning < std::chrono::seconds(1)) return;
    const std::string why =
        redis ? "it fell behind and Redis disconnected it (client-output-buffer-limit pubsub), or it was reconnecting"
              : fmt::format(
                    "it fell behind: the broker keeps at most --backlog {} messages for it and drops the oldest, "
                    "or it was reconnecting",
                    options.maxBacklog);
    warn(fmt::format("{} record(s) were dropped for this tail ({} in all): {}", gaps.missed() - missedShown,
                     gaps.missed(), why));
    missedShown = gaps.missed();
    lastMissedWarning = Clock::now();
  };

  uint64_t printed = 0;
  std::vector<Delivery> batch;
  std::vector<Record> records;
  std::string error;
  while (!stop.load()) {
    batch.clear();
    try {
      subscription->receive(batch, std::chrono::milliseconds(200));
    } catch (const ConnectionError& e) {
      if (stop.load()) break;
      if (broker.reconnectFor.count() == 0) throw;
      warn(fmt::format("{}{}: subscribing again (records sent meanwhile are not shown)", e.what(),
                       redis ? " (Redis disconnects a subscriber that falls too far behind)" : ""));
      subscription.reset();
      BrokerOptions again = broker;
      again.retryFor = broker.reconnectFor;
      try {
        subscription = makeTail(again, options);
      } catch (const InterruptedError&) {
        break;  // Ctrl-C while reconnecting
      }
      warn(fmt::format("tailing again: {}", subscription->describe()));
      continue;
    }
    for (const Delivery& d : batch) {
      if (!d.transportError.empty()) {
        warn(fmt::format("a message could not be read: {}", d.transportError));
        continue;
      }
      records.clear();
      if (!decodeRecords(d.body, d.headers, d.brokerTimestampUs != 0 ? d.brokerTimestampUs : nowMicros(), records,
                         error)) {
        warn(fmt::format("a message could not be read (the aggregators dead-letter it): {}", error));
        continue;
      }
      for (const Record& r : records) {
        gaps.note(r.id);
        if (!filter.matches(r)) continue;
        appendFormatted(out.buffer(), *format, r);
        if (request.count > 0 && ++printed >= request.count) break;
      }
      if (request.count > 0 && printed >= request.count) break;
    }
    if (!out.flush()) break;  // the reader is gone (`logctl tail | head`)
    if (request.count > 0 && printed >= request.count) break;
    reportMissed(false);
  }
  out.flush();
  reportMissed(true);
  if (subscription) subscription->finish(std::chrono::seconds(10));
  return 0;
}

}  // namespace logship::ctl
