#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/connection_status.hpp"
#include "core/broker_url.hpp"

namespace logship {

using Clock = std::chrono::steady_clock;

// TLS settings of an amqps:// connection (PEM files). Empty paths mean: trust the system's CA
// store, send no client certificate. The broker's name is always checked against the URL's host.
struct TlsOptions {
  std::string caFile;    // CA certificates the broker's certificate must chain to (--tls-ca)
  std::string certFile;  // client certificate (chain), with keyFile (--tls-cert)
  std::string keyFile;   // its unencrypted private key (--tls-key)
};

// RabbitMQ's management HTTP API (logctl status reads queue statistics there, log_aggregator a
// quorum queue's delivery limit: findDeliveryLimits). Logged into with the broker URL's user and
// password. Off unless asked for (cli::resolveManagement: logctl status and log_aggregator).
struct ManagementOptions {
  bool enabled = false;
  // http[s]://HOST[:PORT][/PREFIX]. Empty: derived from the broker URL (http://HOST:15672 for
  // amqp://, https://HOST:15671 for amqps://), and used only if that node listens on the URL's port.
  std::string url;
  // --require-tls: an http:// API is not used (the password would travel in clear text).
  bool requireTls = false;
};

// RabbitMQ's queue types (--queue-type). A queue that exists already is used as it is, whatever its
// type (docs/FORMATS.md, "Using existing queues"); this says how a missing one is declared.
enum class QueueType { Classic, Quorum, Stream };

// How a program declares its log queue when it does not exist yet (docs/FORMATS.md, "Queue types").
// The dead-letter queue NAME.dead is always a classic durable queue.
struct QueueDeclaration {
  QueueType type = QueueType::Classic;  // classic: durable, no arguments (the tutorial's declaration)
  std::string streamMaxAge;             // stream: x-max-age as RabbitMQ takes it ("7D", "12h"); "" = none
  uint64_t streamMaxBytes = 0;          // stream: x-max-length-bytes; 0 = none
};

// How to reach a broker. Every blocking broker call is bounded by one of these durations.
struct BrokerOptions {
  BrokerUrl url;                       // the broker to use (for a list: the one being tried)
  std::vector<BrokerUrl> urls;         // --broker URL1,URL2,...: tried in turn (failover); empty = just `url`
  std::string clientName = "logship";  // shown by `rabbitmqctl list_connections`
  std::chrono::milliseconds connectTimeout{5'000};  // one attempt: TCP connect + handshake
  std::chrono::milliseconds retryFor{10'000};       // keep retrying an unreachable broker this long
  // After a working connection broke: reconnect (and resend / resume) for this long; 0 = fail at once.
  std::chrono::milliseconds reconnectFor{300'000};
  std::chrono::milliseconds rpcTimeout{15'000};      // each broker RPC (declare, qos, close, ...)
  std::chrono::seconds heartbeat{30};                // 0 disables heartbeats
  const std::atomic<bool>* stopRequested = nullptr;  // abandons connect retries when set
  // Redis publishers only (--wait-replicas, --wait-timeout): pushed records count as confirmed only
  // once `WAIT waitReplicas waitTimeout` (one per pipeline) reports that many replicas have them;
  // fewer is a broken connection (reconnect, send again). 0: confirmed once the master answered.
  int waitReplicas = 0;
  std::chrono::milliseconds waitTimeout{5'000};
  TlsOptions tls;                // amqps:// only (and an https:// management API)
  ManagementOptions management;  // RabbitMQ only: logctl status, log_aggregator
  // RabbitMQ: the log queue is this many queues behind a consistent-hash exchange (--shards N,
  // broker/amqp/shards.hpp); 0: one queue. Every program declares and uses that topology.
  uint32_t shards = 0;
  QueueDeclaration newQueues;  // RabbitMQ only: a missing log queue is declared so
  // Kept up to date by the Reconnector and the reconnecting decorators when set (metrics,
  // /healthz). Give it only to the program's main connection.
  ConnectionStatus* status = nullptr;
};

// Where a RabbitMQ stream consumer starts reading when it has no offset of its own (basic.consume's
// x-stream-offset; log_aggregator --stream-from).
struct StreamStart {
  enum class Kind { First, Last, Next, Offset, Timestamp };
  Kind kind = Kind::First;
  int64_t value = 0;  // Offset: the offset; Timestamp: seconds since the epoch
};

// A stream reader's place, shared by every adapter its reconnects make: each subscribes at `next`
// when set (the offset after the last delivery handed out, or the aggregator's saved offset), else
// at `start`. The adapter moves `next` on as it hands deliveries out.
struct StreamPosition {
  StreamStart start;
  std::optional<int64_t> next;
};

struct ConsumerOptions {
  std::string queue = "logs_queue";
  // Unacknowledged deliveries the broker may push ahead. Large enough that the broker never waits
  // for our group-committed acks, small enough that several aggregators share the work fairly.
  uint16_t prefetch = 200;
  // Redis only (RabbitMQ tracks consumers itself). A stable name for this consumer: its processing
  // list is named after it, so a restart with the same id takes back its own unfinished records.
  std::string consumerId;
  // Redis only: a consumer whose lease was not refreshed for this long counts as dead, and any
  // live aggregator puts its unfinished records back in the queue.
  std::chrono::milliseconds leaseTtl{30'000};
  // A delivery whose body is over this is not read into memory (0: no limit). RabbitMQ: from the
  // size its content header declares, its body frames skipped; it arrives with droppedBodySize set.
  // Redis: the take script measures the value in Redis and moves it to the dead list there; it
  // arrives with droppedBodySize and movedToDeadLetters set.
  size_t maxBodyBytes = 0;
  // RabbitMQ, sharded queues (BrokerOptions::shards): the shards consumed (--shard-ids), one
  // basic.consume each on one channel; empty: every shard.
  std::vector<uint32_t> shardIds;
  // RabbitMQ: set to read the queue as a stream when it is one (found out when subscribing: only a
  // stream accepts x-stream-offset); null: the queue is consumed as a queue whatever its type.
  std::shared_ptr<StreamPosition> stream;
};

// Queue names derived from the main queue name.
inline std::string deadLetterQueueName(const std::string& queue) { return queue + ".dead"; }

}  // namespace logship
