#pragma once
#include <string>
#include <vector>

#include "broker/admin.hpp"
#include "broker/options.hpp"

namespace logship::ctl {

// Each returns the process exit code and prints its result on stdout.
int setup(const BrokerOptions& broker, const std::string& queue);
// The queue and its dead-letter queue: ready, unacked, consumers, rates, dead letters; over Redis
// also every processing list with its owner and lease. Exit 1 if the queue does not exist.
int status(const BrokerOptions& broker, const std::string& queue, bool json);

// What logctl status shows (and the console's /api/queues): the queue (a sharded queue's shards
// added up), its shards (`shards` > 0), and its dead-letter queue.
struct QueueReport {
  QueueStats queue;
  std::vector<QueueStats> shards;
  QueueStats dead;
};
QueueReport queueReport(Admin& admin, const std::string& queue, uint32_t shards);
int recover(const BrokerOptions& broker, const std::string& queue);

// logctl dead ACTION [N], as the command line gave it (validated by dead()).
struct DeadRequest {
  std::string action;     // list, show, requeue, purge
  uint64_t position = 0;  // N: the dead letter at this position (1 = oldest); 0 = not given
  std::string id;         // --id: the record id (logship-id)
  std::string reason;     // --reason: a glob (fnmatch) on logship-dead-reason
  uint64_t limit = 0;     // list: at most this many (0: 100); requeue: at most this many (0: all)
  bool json = false;      // list, show
  bool yes = false;       // purge
};

// Lists (one line each, escaped), shows (headers and body), moves back to `queue` (requeue: at
// least once, without logship-dead-reason, -dead-queue and -deliveries) or deletes (purge, only
// with --yes) the dead letters of `queue` (docs/RELIABILITY.md, "Inspecting and replaying dead
// letters"). Exit 0; show: 1 when no such dead letter. Bad arguments throw UsageError.
int dead(const BrokerOptions& broker, const std::string& queue, const DeadRequest& request);

// logctl search, as the command line gave it (validated by search()).
struct SearchRequest {
  std::vector<std::string> files;  // "-" = standard input
  std::string since, until;        // RFC 3339 or a duration before now; "" = none
  std::string level;               // minimum level; "" = any
  std::vector<std::string> services;
  std::vector<std::string> hosts;  // names or globs (fnmatch)
  std::string grep;                // POSIX ERE; "" = none
  std::string format = "auto";     // auto, text, json, raw
  bool json = false;               // print JSON objects instead of the lines
};

// Prints the matching lines (or JSON objects). Like grep: exit 0 if something matched, 1 if not,
// 2 if a file could not be read (one error line each; the other files are still scanned). Bad
// arguments throw UsageError before anything is read.
int search(const SearchRequest& request);

// logctl tail, as the command line gave it (validated by tail()).
struct TailRequest {
  std::string level;                  // this level or above; "" = any
  std::vector<std::string> services;  // any of these; empty = any
  std::vector<std::string> hosts;     // any of these names or globs; empty = any
  uint64_t count = 0;                 // -n: exit after printing this many records; 0 = until stopped
  std::string format = "text";        // text, json, raw (the aggregator's output formats)
  uint32_t backlog = 1000;            // RabbitMQ: messages kept for a tail that falls behind
};

// Prints the records sent to `queue` from now on that match, one line each as the aggregator would
// write them, until `count` were printed or broker.stopRequested is set (exit 0). Takes nothing
// from the queue. Warnings (records dropped for a tail that fell behind, a lost subscription) go to
// stderr. Bad arguments throw UsageError before connecting; a connection lost is subscribed again
// for broker.reconnectFor.
int tail(const BrokerOptions& broker, const std::string& queue, const TailRequest& request);

// logctl serve, as the command line gave it (validated by serve()).
struct ServeRequest {
  std::string listen = "127.0.0.1:8080";    // HOST:PORT; port 0 picks a free one
  std::vector<std::string> files;           // globs of aggregated outputs to search
  std::vector<std::string> metricsTargets;  // http://HOST:PORT[/metrics] of producers and aggregators
  std::string tokenFile;                    // "" = no token (loopback only)
};

// The command itself is console::serve (console/command.hpp): the console sits a layer above ctl.

}  // namespace logship::ctl
