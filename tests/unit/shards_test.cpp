// Sharded queues' pure parts (--shards N, broker/amqp/shards.hpp): names, flag checks, the
// plugin error, the management API's placement fields, the queues a consumer reads.
#include <gtest/gtest.h>

#include <amqp.h>

#include <string>
#include <vector>

#include "broker/amqp/consumer.hpp"
#include "broker/amqp/management.hpp"
#include "broker/amqp/shards.hpp"
#include "broker/amqp/topology.hpp"
#include "broker/resolve.hpp"
#include "core/error.hpp"

using namespace logship;
using namespace logship::amqp;

TEST(Shards, Names) {
  EXPECT_EQ(shardQueueName("logs_queue", 0), "logs_queue.shard.0");
  EXPECT_EQ(shardQueueName("app", 12), "app.shard.12");
  EXPECT_EQ(shardExchangeName("app"), "app.shards");
  EXPECT_EQ(firstQueueName("app", 0), "app");
  EXPECT_EQ(firstQueueName("app", 3), "app.shard.0");
  EXPECT_EQ(consumedQueues("app", 0, {}), std::vector<std::string>{"app"});
  EXPECT_EQ(consumedQueues("app", 3, {}), (std::vector<std::string>{"app.shard.0", "app.shard.1", "app.shard.2"}));
  EXPECT_EQ(consumedQueues("app", 3, {2, 0}), (std::vector<std::string>{"app.shard.2", "app.shard.0"}));
}

TEST(Shards, ShardIdsChecked) {
  EXPECT_NO_THROW(validateShardIds({}, 0));
  EXPECT_NO_THROW(validateShardIds({0, 2}, 3));
  EXPECT_THROW(validateShardIds({3}, 3), UsageError);
  EXPECT_THROW(validateShardIds({1, 1}, 3), UsageError);
  EXPECT_THROW(validateShardIds({0}, 0), UsageError);  // --shard-ids without --shards
  try {
    validateShardIds({0, 5}, 3);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--shard-ids: there is no shard 5 (--shards 3: ids 0 to 2)");
  }
}

TEST(Shards, BrokerSettingsChecked) {
  BrokerSettings s;
  s.urls = "amqp://localhost/";
  s.shards = 3;
  EXPECT_EQ(resolveBrokerSettings(s).shards, 3u);
  s.shards = kMaxShards + 1;
  EXPECT_THROW(resolveBrokerSettings(s), UsageError);
  s.shards = 2;
  s.queue = std::string(248, 'q');  // a valid queue name whose shard names would pass 255 bytes
  EXPECT_THROW(resolveBrokerSettings(s), UsageError);
  s.queue = "app";
  s.urls = "redis://localhost/";
  try {
    resolveBrokerSettings(s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--shards: sharded queues need RabbitMQ"), std::string::npos) << e.what();
  }
  s.shards = 0;
  EXPECT_EQ(resolveBrokerSettings(s).shards, 0u);
}

TEST(Shards, MissingPluginSaysHowToEnableIt) {
  const auto hint =
      missingShardPlugin(AMQP_COMMAND_INVALID,
                         "declaring exchange 'q.shards': broker closed the connection: COMMAND_INVALID - unknown "
                         "exchange type 'x-consistent-hash'");
  ASSERT_TRUE(hint);
  EXPECT_NE(hint->find("rabbitmq-plugins enable rabbitmq_consistent_hash_exchange"), std::string::npos) << *hint;
  EXPECT_EQ(hint->find('\n'), std::string::npos);
  EXPECT_FALSE(missingShardPlugin(AMQP_PRECONDITION_FAILED, "inequivalent arg 'type' ... x-consistent-hash"));
  EXPECT_FALSE(missingShardPlugin(AMQP_COMMAND_INVALID, "unknown exchange type 'x-foo'"));
}

TEST(Shards, PlacementFromTheManagementApi) {
  QueueStats quorum;
  readQueueDocument(R"({"name":"q.shard.0","type":"quorum","leader":"rabbit@b","node":"rabbit@b",
    "members":["rabbit@a","rabbit@b","rabbit@c"],"consumers":1,"messages_ready":0,"messages_unacknowledged":0})",
                    quorum);
  EXPECT_EQ(quorum.type, "quorum");
  EXPECT_EQ(quorum.leader, "rabbit@b");
  EXPECT_EQ(quorum.members, (std::vector<std::string>{"rabbit@a", "rabbit@b", "rabbit@c"}));
  QueueStats classic;
  readQueueDocument(R"({"name":"q.shard.1","type":"classic","node":"rabbit@a","consumers":0})", classic);
  EXPECT_EQ(classic.type, "classic");
  EXPECT_EQ(classic.leader, "rabbit@a");
  EXPECT_EQ(classic.members, std::vector<std::string>{"rabbit@a"});
}
