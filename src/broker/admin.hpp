#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace logship {

struct QueueStats {
  std::string name;
  bool exists = false;
  uint64_t messagesReady = 0;  // waiting for a consumer
  uint32_t consumers = 0;
  // Taken by a consumer and not yet acknowledged, when the broker can tell cheaply (Redis:
  // the records in processing lists).
  std::optional<uint64_t> messagesUnacked;
};

// What `logctl recover` did for one consumer of a Redis queue.
struct ConsumerRecovery {
  std::string consumerId;
  bool alive = false;     // its lease is live: left alone
  uint64_t recovered = 0;  // records put back at the head of the queue
};

// Topology management and inspection (logctl).
class Admin {
 public:
  virtual ~Admin() = default;
  // Declares `queue` and its dead-letter queue, idempotently, compatibly with the tutorial's clients.
  virtual void declareTopology(const std::string& queue) = 0;
  // Looks at a queue without creating it.
  virtual QueueStats queueStats(const std::string& queue) = 0;
  // Puts the unfinished records of dead consumers (lease expired) back in the queue. Returns
  // nullopt when the broker does this itself (RabbitMQ requeues unacked messages on disconnect).
  virtual std::optional<std::vector<ConsumerRecovery>> recoverAbandoned(const std::string& queue) = 0;
};

}  // namespace logship
