// logctl status: what the broker knows about the queue, its dead letters and (Redis) consumers.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "broker/amqp/topology.hpp"
#include "broker/factory.hpp"
#include "core/escape.hpp"
#include "ctl/commands.hpp"

namespace logship::ctl {
namespace {

std::string count(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "-"; }

std::string rate(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : "-"; }

std::string seconds(std::chrono::milliseconds ms) {
  return fmt::format("{:.1f} s", static_cast<double>(ms.count()) / 1000.0);
}

nlohmann::ordered_json optionalJson(const std::optional<uint64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

nlohmann::ordered_json optionalJson(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(std::round(*v * 100) / 100) : nlohmann::ordered_json();
}

nlohmann::ordered_json optionalSeconds(const std::optional<std::chrono::milliseconds>& v) {
  return v ? nlohmann::ordered_json(static_cast<double>(v->count()) / 1000.0) : nlohmann::ordered_json();
}

const char* sourceName(StatsSource s) {
  switch (s) {
    case StatsSource::PassiveDeclare: return "amqp";
    case StatsSource::ManagementApi: return "management-api";
    case StatsSource::Redis: return "redis";
  }
  return "?";
}

nlohmann::ordered_json optionalJson(const std::optional<int64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

nlohmann::ordered_json replicationJson(const ReplicationStats& r) {
  nlohmann::ordered_json replicas = nlohmann::ordered_json::array();
  for (const auto& replica : r.replicas) {
    replicas.push_back({{"address", replica.address},
                        {"flags", replica.flags},
                        {"lag_bytes", optionalJson(replica.lagBytes)},
                        {"lag_seconds", optionalJson(replica.lagSeconds)}});
  }
  return {{"master_name", r.masterName}, {"master", r.master}, {"replicas", std::move(replicas)}};
}

// Redis through sentinels: which master was resolved, and the replicas the sentinels know.
void printReplication(const ReplicationStats& r) {
  fmt::print("\nmaster '{}' (from the sentinels): {}\n", escaped(r.masterName), escaped(r.master));
  if (r.replicas.empty()) {
    fmt::print("no replicas known to the sentinels\n");
    return;
  }
  fmt::print("{:<28} {:<24} {:>12} {:>10}\n", "REPLICA", "SENTINEL FLAGS", "LAG BYTES", "LAST ACK");
  for (const auto& replica : r.replicas) {
    const std::string bytes = replica.lagBytes ? std::to_string(*replica.lagBytes) : "-";
    const std::string ack = replica.lagSeconds ? fmt::format("{} s ago", *replica.lagSeconds) : "not connected";
    fmt::print("{:<28} {:<24} {:>12} {:>10}\n", escaped(replica.address), escaped(replica.flags), bytes, ack);
  }
}

nlohmann::ordered_json toJson(const QueueStats& s, const std::optional<uint64_t>& deadLetters) {
  nlohmann::ordered_json q = {{"queue", s.name},
                              {"exists", s.exists},
                              {"ready", s.messagesReady},
                              {"unacked", optionalJson(s.messagesUnacked)},
                              {"consumers", s.consumers},
                              {"publish_rate", optionalJson(s.publishRate)},
                              {"deliver_rate", optionalJson(s.deliverRate)},
                              {"source", sourceName(s.source)}};
  if (deadLetters) q["dead_letters"] = *deadLetters;
  if (s.source == StatsSource::Redis) {
    nlohmann::ordered_json lists = nlohmann::ordered_json::array();
    for (const auto& p : s.processing) {
      lists.push_back(
          {{"consumer", p.consumerId},
           {"messages", p.messages},
           {"alive", p.alive},
           {"owner_gone", p.ownerGone},
           {"owner_host", p.alive || p.ownerGone ? nlohmann::ordered_json(p.ownerHost) : nlohmann::ordered_json()},
           {"owner_pid", p.alive || p.ownerGone ? nlohmann::ordered_json(p.ownerPid) : nlohmann::ordered_json()},
           {"lease_age_seconds", optionalSeconds(p.leaseAge)},
           {"lease_expires_in_seconds", optionalSeconds(p.leaseExpiresIn)}});
    }
    q["processing"] = std::move(lists);
  }
  if (s.replication) q["replication"] = replicationJson(*s.replication);
  return q;
}

constexpr const char* kRow = "{:<40} {:>10} {:>10} {:>10} {:>10} {:>10} {:>13}\n";

void printRow(const std::string& label, const QueueStats& s, const std::string& dead) {
  if (s.exists) {
    fmt::print(kRow, label, s.messagesReady, count(s.messagesUnacked), s.consumers, rate(s.publishRate),
               rate(s.deliverRate), dead);
  } else {
    fmt::print(kRow, label, "(missing)", "-", "-", "-", "-", "-");
  }
}

std::string deadCount(const QueueStats& dead) { return dead.exists ? std::to_string(dead.messagesReady) : "-"; }

void printSource(const QueueStats& main) {
  if (main.replication) printReplication(*main.replication);
  if (main.source == StatsSource::Redis) {
    if (main.processing.empty()) {
      fmt::print("\nno processing lists (no aggregator holds messages)\n");
      return;
    }
    fmt::print("\n{:<56} {:>8}  {:<28} {}\n", "PROCESSING LIST (CONSUMER ID)", "MESSAGES", "OWNER", "LEASE");
    for (const auto& p : main.processing) {
      std::string owner = "-";
      std::string lease = "expired: a live aggregator or `logctl recover` puts its messages back";
      if (p.ownerGone) {
        owner = fmt::format("{} pid {}", escaped(p.ownerHost), p.ownerPid);
        lease = "held by a process of this host that is gone: `logctl recover` puts its messages back";
      } else if (p.alive) {
        owner = fmt::format("{} pid {}", escaped(p.ownerHost), p.ownerPid);
        lease = p.leaseAge
                    ? fmt::format("renewed {} ago, expires in {}", seconds(*p.leaseAge), seconds(*p.leaseExpiresIn))
                    : fmt::format("expires in {}", seconds(*p.leaseExpiresIn));
      }
      fmt::print("{:<56} {:>8}  {:<28} {}\n", escaped(p.consumerId), p.messages, owner, lease);
    }
  } else if (main.source == StatsSource::ManagementApi) {
    fmt::print(
        "\n(RabbitMQ management API: the rates and counts are as of its last statistics sample, every 5 s by "
        "default)\n");
  } else {
    fmt::print(
        "\n(AMQP passive declare: ready and consumers only; the management API gives unacked counts and "
        "rates)\n");
  }
}

void printTable(const QueueStats (&stats)[2]) {
  fmt::print(kRow, "QUEUE", "READY", "UNACKED", "CONSUMERS", "PUBLISH/S", "DELIVER/S", "DEAD-LETTERS");
  printRow(escaped(stats[0].name), stats[0], deadCount(stats[1]));
  printRow(escaped(stats[1].name), stats[1], "-");
  printSource(stats[0]);
}

// A sharded queue (--shards N) as one queue: the shards' numbers added up (unacked and rates only
// when every shard has them); it exists when every shard does.
QueueStats totalOf(const std::string& queue, const std::vector<QueueStats>& shards) {
  QueueStats total;
  total.name = queue;
  total.exists = !shards.empty();
  total.source = StatsSource::ManagementApi;
  total.messagesUnacked = 0;
  total.publishRate = 0.0;
  total.deliverRate = 0.0;
  auto add = [](auto& sum, const auto& part) {
    if (sum && part) {
      *sum += *part;
    } else {
      sum.reset();
    }
  };
  for (const QueueStats& s : shards) {
    total.exists = total.exists && s.exists;
    total.messagesReady += s.messagesReady;
    total.consumers += s.consumers;
    add(total.messagesUnacked, s.messagesUnacked);
    add(total.publishRate, s.publishRate);
    add(total.deliverRate, s.deliverRate);
    if (s.source != StatsSource::ManagementApi) total.source = s.source;
  }
  return total;
}

nlohmann::ordered_json shardJson(uint32_t shard, const QueueStats& s) {
  nlohmann::ordered_json j = {{"shard", shard}};
  j.update(toJson(s, std::nullopt));
  j["type"] = s.type ? nlohmann::ordered_json(*s.type) : nlohmann::ordered_json();
  j["leader"] = s.leader ? nlohmann::ordered_json(*s.leader) : nlohmann::ordered_json();
  j["members"] = s.members;
  return j;
}

void printShards(const QueueStats (&stats)[2], const std::vector<QueueStats>& shards) {
  fmt::print(kRow, "QUEUE", "READY", "UNACKED", "CONSUMERS", "PUBLISH/S", "DELIVER/S", "DEAD-LETTERS");
  printRow(fmt::format("{} ({} shards)", escaped(stats[0].name), shards.size()), stats[0], deadCount(stats[1]));
  for (const QueueStats& s : shards) printRow("  " + escaped(s.name), s, "-");
  printRow(escaped(stats[1].name), stats[1], "-");
  if (std::none_of(shards.begin(), shards.end(), [](const QueueStats& s) { return s.type.has_value(); })) {
    fmt::print("\n(the shards' types, leaders and members: from the management API only)\n");
  } else {
    fmt::print("\n{:<40} {:<8} {:<30} {}\n", "SHARD", "TYPE", "LEADER", "MEMBERS");
    for (const QueueStats& s : shards) {
      fmt::print("{:<40} {:<8} {:<30} {}\n", escaped(s.name), escaped(s.type.value_or("-")),
                 escaped(s.leader.value_or("-")), escaped(fmt::format("{}", fmt::join(s.members, ","))));
    }
  }
  printSource(stats[0]);
}

// Without --shards on a sharded queue, the queue is missing but its shards are not: say so.
void hintShards(Admin& admin, const std::string& queue) {
  uint32_t n = 0;
  while (n < amqp::kMaxShards && admin.queueStats(amqp::shardQueueName(queue, n)).exists) ++n;
  if (n > 0) spdlog::warn("'{}' is sharded ({} shards): give --shards {}", escaped(queue), n, n);
}

}  // namespace

QueueReport queueReport(Admin& admin, const std::string& queue, uint32_t shards) {
  QueueReport r;
  for (uint32_t i = 0; i < shards; ++i) r.shards.push_back(admin.queueStats(amqp::shardQueueName(queue, i)));
  r.queue = r.shards.empty() ? admin.queueStats(queue) : totalOf(queue, r.shards);
  r.dead = admin.queueStats(deadLetterQueueName(queue));
  r.dead.replication.reset();  // shown once, with the main queue
  return r;
}

int status(const BrokerOptions& broker, const std::string& queue, bool json) {
  auto admin = makeAdmin(broker);
  QueueReport report = queueReport(*admin, queue, broker.shards);
  const std::vector<QueueStats>& shards = report.shards;
  QueueStats stats[] = {std::move(report.queue), std::move(report.dead)};
  if (json) {
    // An array of the queue and its dead-letter queue (the first object also has "dead_letters",
    // and for a sharded queue the sums of its "shards", one object each).
    const std::optional<uint64_t> dead = stats[1].exists ? std::optional(stats[1].messagesReady) : std::nullopt;
    nlohmann::ordered_json first = toJson(stats[0], dead);
    if (!shards.empty()) {
      first["shards"] = nlohmann::ordered_json::array();
      for (uint32_t i = 0; i < shards.size(); ++i) first["shards"].push_back(shardJson(i, shards[i]));
    }
    nlohmann::ordered_json out = nlohmann::ordered_json::array({std::move(first), toJson(stats[1], std::nullopt)});
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else if (!shards.empty()) {
    printShards(stats, shards);
  } else {
    printTable(stats);
  }
  if (shards.empty() && !stats[0].exists) hintShards(*admin, queue);
  return stats[0].exists ? 0 : 1;
}

}  // namespace logship::ctl
