#pragma once
// Redis Sentinel discovery, as Redis' "Sentinel clients" guide describes it (hiredis 0.14 has none):
// ask the sentinels in turn, each with a short deadline, for the master's address
// (SENTINEL get-master-addr-by-name), connect to it, and check with ROLE that it is the master.
// Done afresh for every connection, so a reconnect after a failover finds the new master.
#include <chrono>

#include "broker/admin.hpp"
#include "broker/options.hpp"
#include "broker/redis/connection.hpp"

namespace logship::redis {

// One sentinel gets at most this long to accept and answer (or options.connectTimeout if shorter).
inline constexpr std::chrono::milliseconds kSentinelTimeout{1'000};

// The master of a redis-sentinel:// broker (options.url; all sentinels in options.urls) as a
// redis:// URL with the data nodes' password and the database. Throws ConnectionError when no
// sentinel answers ("no Redis Sentinel reachable ..."), BrokerRefusedError when the sentinels know
// no master of that name or refuse the sentinels' password.
BrokerUrl askSentinelsForMaster(const BrokerOptions& options);

// A connection to the master the sentinels name, its ROLE checked (ConnectionError if it is not
// the master: the caller's Reconnector asks again). A refused login says it was the master's.
RedisConnection openMasterThroughSentinels(const BrokerOptions& options);

// For logctl status: the master the sentinels name and the replicas they know, with their lag as
// the master reports it (INFO replication). `master` is a connection to that master.
ReplicationStats describeReplication(const BrokerOptions& options, RedisConnection& master);

}  // namespace logship::redis
