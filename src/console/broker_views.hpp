#pragma once
// The console's views of the broker, as logctl status and logctl dead give them (one Admin
// connection per request: an Admin is not shared between threads).
#include <cstdint>
#include <string>

#include "broker/options.hpp"
#include "console/records.hpp"

namespace logship::console {

// GET /api/queues.
Json queuesJson(const BrokerOptions& broker, const std::string& queue);
// GET /api/dead: the oldest `limit` dead letters, one entry per record they hold (a batch holds
// several; one that cannot be decoded shows its body as the message).
Json deadLettersJson(const BrokerOptions& broker, const std::string& queue, uint64_t limit);
// POST /api/dead/requeue: the oldest `count` back to the queue (as logctl dead requeue --limit).
uint64_t requeueDeadLetters(const BrokerOptions& broker, const std::string& queue, uint64_t count);
// POST /api/dead/delete: every dead letter (as logctl dead purge), when `count` is at least how many
// there are; deleting only some is refused (ApiError 409: the brokers delete a dead-letter queue whole).
uint64_t deleteDeadLetters(const BrokerOptions& broker, const std::string& queue, uint64_t count);

}  // namespace logship::console
