#pragma once
// GET /api/live: the records sent to the queue, as `logctl tail` sees them (broker/tail.hpp: a copy
// that takes nothing from the queue), fanned out to the browsers that watch. One subscription to the
// broker while anyone watches (none while no one does); each client has its own filter and a bounded
// queue of Server-Sent Events: a client that reads too slowly loses the oldest and is told how many
// (event: skipped). A client that goes away takes its queue with it.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/options.hpp"
#include "ctl/tail.hpp"
#include "search/pattern.hpp"

namespace logship::console {

// One watching client: what it wants and the events waiting for it.
class LiveClient {
 public:
  LiveClient(ctl::TailFilter filter, std::unique_ptr<search::Pattern> pattern, size_t maxQueued)
      : filter_(std::move(filter)), pattern_(std::move(pattern)), maxQueued_(maxQueued) {}

  // The hub's side: queues `record` as an event if it passes the filter (the oldest event is dropped
  // and counted when the queue is full).
  void offer(const Record& record, std::string& lineBuffer);
  void missed(uint64_t count);               // records the subscription lost (counted as skipped)
  void error(const std::string& reason);     // an error event
  void subscribed(const std::string& what);  // a subscribed event: records sent from now on are seen
  // The client's side: waits up to `timeout` for events; appends them (and a skipped event first
  // when records were dropped) in the SSE wire form. False when nothing came.
  bool take(std::string& out, std::chrono::milliseconds timeout);

 private:
  void push(std::string event);
  ctl::TailFilter filter_;
  std::unique_ptr<search::Pattern> pattern_;
  size_t maxQueued_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> events_;
  uint64_t skipped_ = 0;
};

class LiveHub {
 public:
  LiveHub(BrokerOptions broker, std::string queue);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // nullptr when kMaxClients already watch.
  std::shared_ptr<LiveClient> join(ctl::TailFilter filter, std::unique_ptr<search::Pattern> pattern);
  void leave(const std::shared_ptr<LiveClient>& client);

  static constexpr size_t kMaxClients = 16;
  static constexpr size_t kMaxQueuedEvents = 1000;

 private:
  void run();
  void watch();  // subscribed while anyone watches
  std::vector<std::shared_ptr<LiveClient>> clients();
  // The clients now; with none, the subscription ends here, under join()'s lock (see live.cpp).
  std::vector<std::shared_ptr<LiveClient>> watchersOrUnsubscribe();

  BrokerOptions broker_;
  std::string queue_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<LiveClient>> clients_;
  std::string subscription_;  // what is subscribed ("" while nothing is)
  std::thread thread_;
};

// One Server-Sent Event: "event: NAME\ndata: DATA\n\n" (DATA is one line of JSON).
std::string sseEvent(std::string_view name, std::string_view data);

}  // namespace logship::console
