#pragma once
// The Redis keys of one queue (docs/ARCHITECTURE.md, "Redis: the reliable list queue").
#include <cstdint>
#include <string>
#include <string_view>

#include "core/host.hpp"  // localHostName: the host written in leases

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
  // Pub/sub channel: the producers PUBLISH every value they push while `logctl tail` subscribes
  std::string tail() const { return queue + ".tail"; }
};

// The parts of a lease value "<host> <pid> <nonce> [<ttl ms>]".
struct LeaseOwner {
  std::string host;
  int64_t pid = 0;
  int64_t ttlMs = 0;  // 0: not given
};
LeaseOwner parseLeaseToken(std::string_view token);

// Whether the process that holds a lease is known to be gone: it ran on `thisHost` and its pid
// runs no log_aggregator any more. A holder on another host (or a lease without a pid) is never
// known to be gone: only its lease's expiry tells. The aggregator (taking its own id), `logctl
// status` and `logctl recover` use this one check.
bool leaseHolderGone(const LeaseOwner& owner, std::string_view thisHost);

// Lua for the scripts that read or count failed deliveries in a value (docs/FORMATS.md, "Redis
// envelope"): `failures(v)` returns the count of the first `deliveries` item of a version-1
// envelope (0 without one, or when it is not 1 to 9 digits) and where it is, or nil when `v` is not
// a readable version-1 envelope; `counted(v)` returns `v` with one more failed delivery: the item
// incremented (or added as the first item), a plain value wrapped into an envelope carrying only
// that item, and a value that is no readable version-1 envelope (it is dead-lettered as malformed
// when read) unchanged. The same rules as recordedDeliveries() (core/message.hpp).
inline constexpr std::string_view kDeliveriesLua = R"lua(
local function failures(v)
  if string.sub(v, 1, 4) ~= '\255LS1' then return nil end
  local lf = string.find(v, '\n', 5, true)
  if not lf then return nil end
  local line = string.sub(v, 4, lf - 1)
  if line ~= '1' and string.sub(line, 1, 2) ~= '1 ' then return nil end
  local s, e, old = string.find(line, ' deliveries=([^ ]*)')
  local n = 0
  if s and string.match(old, '^%d+$') and #old <= 9 then n = tonumber(old) end
  return n, line, lf, s, e
end
local function counted(v)
  if string.sub(v, 1, 3) ~= '\255LS' then return '\255LS1 deliveries=1\n' .. v end
  local n, line, lf, s, e = failures(v)
  if not n then return v end
  local item = ' deliveries=' .. string.format('%d', math.min(n + 1, 999999999))
  if not s then return '\255LS1' .. item .. string.sub(v, 5) end
  return '\255LS' .. string.sub(line, 1, s - 1) .. item .. string.sub(line, e + 1) .. string.sub(v, lf)
end
)lua";

// Puts the records of consumer `id`'s processing list back at the head of the queue, in their
// order — but only if its lease is gone or held by `ownerToken`. Each of them was delivered and
// not acknowledged (its consumer died, lost its lease, or gave it back when it closed), so each
// counts one more failed delivery (`counted`, poison messages in docs/RELIABILITY.md). With mode
// "release" it also forgets the consumer (registry entry, and the lease if ownerToken held it).
// KEYS: queue, processing, lease, registry. ARGV: id, ownerToken ("" = nobody), mode ("keep" or
// "release"), and optionally "as-is": the owner gives its records back for a reason that is no
// failure of theirs (a clean stop, an unwritable output): they go back uncounted.
// Returns the number of records moved, or -1 when a live consumer holds the lease.
// A function-local static: built on first use, where an allocation failure can be caught.
inline const std::string& recoverScript() {
  static const std::string script = std::string(kDeliveriesLua) + R"lua(
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= ARGV[2] then return -1 end
local n = 0
while true do
  local v = redis.call('RPOP', KEYS[2])
  if not v then break end
  if ARGV[4] == 'as-is' then redis.call('LPUSH', KEYS[1], v) else redis.call('LPUSH', KEYS[1], counted(v)) end
  n = n + 1
end
if ARGV[3] == 'release' then
  redis.call('SREM', KEYS[4], ARGV[1])
  if owner then redis.call('DEL', KEYS[3]) end
end
return n
)lua";
  return script;
}

}  // namespace logship::redis
