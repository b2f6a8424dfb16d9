#pragma once
// The Redis keys of one queue (docs/ARCHITECTURE.md, "Redis: the reliable list queue").
#include <cstdint>
#include <string>
#include <string_view>

namespace logship::redis {

struct QueueKeys {
  std::string queue;     // LIST  records waiting, oldest at the head (LEFT)
  std::string registry;  // SET   ids of consumers that may own a processing list
  explicit QueueKeys(std::string q) : queue(std::move(q)), registry(queue + ".consumers") {}
  // LIST  records a consumer took and has not finished yet, oldest at the head
  std::string processing(const std::string& id) const { return queue + ".processing." + id; }
  // STRING "<host> <pid> <nonce> <ttl ms>" with that TTL: the consumer is alive while it exists
  // (aggregators before logctl status wrote no "<ttl ms>")
  std::string lease(const std::string& id) const { return queue + ".lease." + id; }
  std::string processingPattern() const;  // for SCAN: every processing list of this queue
};

// The parts of a lease value "<host> <pid> <nonce> [<ttl ms>]".
struct LeaseOwner {
  std::string host;
  int64_t pid = 0;
  int64_t ttlMs = 0;  // 0: not given
};
LeaseOwner parseLeaseToken(std::string_view token);

// Puts the records of consumer `id`'s processing list back at the head of the queue, in their
// order — but only if its lease is gone or held by `ownerToken`. With mode "release" it also
// forgets the consumer (registry entry, and the lease if ownerToken held it).
// KEYS: queue, processing, lease, registry. ARGV: id, ownerToken ("" = nobody), mode ("keep" or
// "release"). Returns the number of records moved, or -1 when a live consumer holds the lease.
inline constexpr const char* kRecoverScript = R"lua(
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[2] then return -1 end
local n = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT') do n = n + 1 end
if ARGV[3] == 'release' then
  redis.call('SREM', KEYS[4], ARGV[1])
  if owner then redis.call('DEL', KEYS[3]) end
end
return n
)lua";

}  // namespace logship::redis
