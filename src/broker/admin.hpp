#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/message.hpp"

namespace logship {

// Redis: one consumer's processing list (the messages it took and has not acknowledged; a message
// holds one record, or a batch of them).
struct ProcessingListStats {
  std::string consumerId;
  uint64_t messages = 0;
  bool alive = false;  // its lease is held by a process that may be running: the aggregator is running
  // Its lease lives, but it was taken by a process of this host that is gone (SIGKILLed): dead,
  // though the lease has not expired yet (redis::leaseHolderGone).
  bool ownerGone = false;
  std::string ownerHost;  // from the lease ("" once it expired)
  int64_t ownerPid = 0;   // from the lease (0 once it expired)
  // Since the lease was last renewed (an aggregator renews it on every take and ack); known when
  // the lease value carries its TTL, as aggregators write it since logctl status shows lease ages.
  std::optional<std::chrono::milliseconds> leaseAge;
  std::optional<std::chrono::milliseconds> leaseExpiresIn;
};

// Redis Sentinel (redis-sentinel:// URLs): the master the sentinels name and the replicas they know.
struct ReplicaStats {
  std::string address;  // HOST:PORT
  std::string flags;    // the sentinels' view: "slave", "s_down,slave", ...
  // As the master reports it (INFO replication); unset when the replica is not connected to it.
  std::optional<int64_t> lagBytes;    // master_repl_offset - the replica's acknowledged offset
  std::optional<int64_t> lagSeconds;  // since the replica's last acknowledgement
};
struct ReplicationStats {
  std::string masterName;  // in the sentinels' configuration
  std::string master;      // HOST:PORT
  std::vector<ReplicaStats> replicas;
};

// Where the numbers of a QueueStats come from.
enum class StatsSource {
  PassiveDeclare,  // RabbitMQ, AMQP queue.declare(passive): ready and consumers, now
  ManagementApi,   // RabbitMQ management API: also unacked and rates, as of its last sample (5 s)
  Redis,           // LLEN, processing lists and leases, now
};

struct QueueStats {
  std::string name;
  bool exists = false;
  uint64_t messagesReady = 0;  // waiting for a consumer
  uint32_t consumers = 0;
  // Taken by a consumer and not yet acknowledged, when the broker tells (Redis: the records in
  // processing lists; RabbitMQ: the management API).
  std::optional<uint64_t> messagesUnacked;
  // Messages per second published to / delivered from the queue (RabbitMQ management API only).
  std::optional<double> publishRate;
  std::optional<double> deliverRate;
  // RabbitMQ management API only: the queue's type (classic, quorum, stream), the node of its
  // leader (a classic queue's node), and the nodes holding a replica (a classic queue's node).
  std::optional<std::string> type;
  std::optional<std::string> leader;
  std::vector<std::string> members;
  // RabbitMQ management API only, quorum queues: the queue's own limit on failed deliveries as
  // RabbitMQ 3.10 applies it, the smaller of its x-delivery-limit argument and its policies'
  // delivery-limit. After `deliveryLimit` returns the next one drops the message, or dead-letters it
  // to the queue's own dead-letter exchange (reason delivery_limit). Unset: none.
  std::optional<uint32_t> deliveryLimit;
  std::string deliveryLimitSource;  // "x-delivery-limit", "policy 'NAME'", "operator policy 'NAME'"
  // False while the API has not sampled the queue's policies yet (a queue declared seconds ago): a
  // delivery-limit policy is then not in deliveryLimit.
  bool policiesKnown = true;
  std::vector<ProcessingListStats> processing;  // Redis
  std::optional<ReplicationStats> replication;  // Redis through sentinels (redis-sentinel://)
  StatsSource source = StatsSource::PassiveDeclare;
};

// The delivery limits of the queues a consumer reads, as the broker applies them (findDeliveryLimits).
struct DeliveryLimits {
  bool asked = false;              // false: the broker has no such limit (Redis): nothing to say
  std::string unavailable;         // why they could not be read ("" when they were)
  std::vector<QueueStats> queues;  // one per queue consumed: type, deliveryLimit, deliveryLimitSource
};

// What `logctl recover` did for one consumer of a Redis queue.
struct ConsumerRecovery {
  std::string consumerId;
  bool alive = false;      // its lease is live (and not held by a process of this host that is gone): left alone
  uint64_t recovered = 0;  // records put back at the head of the queue
};

// A message of a dead-letter queue (logctl dead).
struct DeadLetter {
  uint64_t position = 0;  // 1 = the oldest, at the head of NAME.dead when it was read
  Message message;        // body, headers (logship-dead-reason ...), AMQP timestamp property
};
// Called for each dead letter in order; returning false stops.
using DeadLetterVisitor = std::function<bool(const DeadLetter&)>;

// Topology management and inspection (logctl).
class Admin {
 public:
  virtual ~Admin() = default;
  // Declares `queue` and its dead-letter queue, idempotently, compatibly with the tutorial's clients;
  // over RabbitMQ only what is missing (an existing queue or exchange is used as it is). Returns one
  // line saying what it found and declared ("" for Redis, which declares nothing).
  virtual std::string declareTopology(const std::string& queue) = 0;
  // Looks at a queue without creating it. Over RabbitMQ the management API is asked too when
  // BrokerOptions::management enables it (logctl status); if it cannot be used, a warning says why
  // (once) and the passive declare answers.
  virtual QueueStats queueStats(const std::string& queue) = 0;
  // Puts the unfinished records of dead consumers (lease expired, or held by a process of this
  // host that is gone) back in the queue. Returns
  // nullopt when the broker does this itself (RabbitMQ requeues unacked messages on disconnect).
  virtual std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string& queue) = 0;

  // Dead letters of `queue` (in NAME.dead), oldest first, without taking any (docs/RELIABILITY.md,
  // "Inspecting and replaying dead letters"). RabbitMQ: fetched unacknowledged (basic.get) and
  // given back when done by closing the channel: the broker puts them back at their places, marked
  // redelivered; meanwhile no other client gets them. Redis: LRANGE.
  virtual void peekDeadLetters(const std::string& queue, const DeadLetterVisitor& visit) = 0;
  // Moves the dead letters for which `select` is true, at most `limit` (0: no limit), back to
  // `queue` as requeuedMessage() makes them, and returns how many it moved. Only the dead letters
  // there when it starts are looked at (one dead-lettered again meanwhile is not taken twice).
  // At least once: RabbitMQ publishes with confirms through the queue's exchange, as producers do,
  // and acks the dead copy only once confirmed (a crash between: the record twice, same id);
  // Redis moves each in one atomic script. Throws on a failed or unconfirmed publish (what was
  // confirmed before stays moved).
  virtual uint64_t requeueDeadLetters(const std::string& queue, const DeadLetterVisitor& select, uint64_t limit) = 0;
  // Deletes every dead letter of `queue`; returns how many there were.
  virtual uint64_t purgeDeadLetters(const std::string& queue) = 0;
};

}  // namespace logship
