#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace logship {

struct QueueStats {
  std::string name;
  bool exists = false;
  uint64_t messagesReady = 0;  // waiting for a consumer
  uint32_t consumers = 0;
};

// Topology management and inspection (logctl).
class Admin {
 public:
  virtual ~Admin() = default;
  // Declares `queue` and its dead-letter queue, idempotently, compatibly with the tutorial's clients.
  virtual void declareTopology(const std::string& queue) = 0;
  // Looks at a queue without creating it.
  virtual QueueStats queueStats(const std::string& queue) = 0;
};

}  // namespace logship
