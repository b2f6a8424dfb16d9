// logctl tail's pure parts: the exchange and routing keys a record travels with, the binding keys
// of a tail's filters (checked against a model of RabbitMQ's topic matching), the client-side
// filter and the count of records a tail missed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/amqp/topology.hpp"
#include "core/error.hpp"
#include "core/message.hpp"
#include "ctl/tail.hpp"

using namespace logship;
using namespace logship::amqp;

namespace {

std::vector<std::string> words(const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    out.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

// AMQP topic matching: '*' is exactly one word, '#' zero or more (RabbitMQ's rules).
bool topicMatches(const std::vector<std::string>& pattern, size_t p, const std::vector<std::string>& key, size_t k) {
  if (p == pattern.size()) return k == key.size();
  if (pattern[p] == "#") {
    for (size_t skip = k; skip <= key.size(); ++skip) {
      if (topicMatches(pattern, p + 1, key, skip)) return true;
    }
    return false;
  }
  if (k == key.size()) return false;
  if (pattern[p] != "*" && pattern[p] != key[k]) return false;
  return topicMatches(pattern, p + 1, key, k + 1);
}

bool routed(const std::vector<std::string>& bindings, const std::string& key) {
  for (const auto& b : bindings) {
    if (topicMatches(words(b), 0, words(key), 0)) return true;
  }
  return false;
}

constexpr Level kLevels[] = {Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal};

}  // namespace

TEST(Topology, ExchangeNames) {
  EXPECT_EQ(exchangeName("logs_queue"), "logs");
  EXPECT_EQ(exchangeName("orders"), "orders.logs");
  EXPECT_EQ(exchangeName("logs"), "logs.logs");
  EXPECT_EQ(exchangeName(std::string(250, 'q')).size(), 255u);  // the longest queue name still fits
}

TEST(Topology, RoutingKeys) {
  EXPECT_EQ(routingKey("api", Level::Error), "api.error");
  EXPECT_EQ(routingKey("-", Level::Info), "-.info");
  EXPECT_EQ(routingKey("a.b", Level::Warn), "a.b.warn");
  EXPECT_EQ(routingKey(std::string(300, 's'), Level::Fatal), std::string(kMaxServiceKeyBytes, 's') + ".fatal");
  EXPECT_LE(routingKey(std::string(300, 's'), Level::Fatal).size(), 255u);
}

TEST(Topology, RoutingKeyOfAMessageIsThatOfItsRecords) {
  Record r;
  r.service = "checkout";
  r.level = Level::Warn;
  r.message = "m";
  Message m;
  encodeRecord(r, m);
  EXPECT_EQ(routingKeyOf(m), "checkout.warn");
  BatchBuilder batch;  // a batch shares the first record's service and level
  batch.start(r);
  batch.add("second", 1);
  batch.finish(m);
  EXPECT_EQ(routingKeyOf(m), "checkout.warn");
  Message plain{"text", {}, 0};  // a tutorial client's message: decoded as service '-', level info
  EXPECT_EQ(routingKeyOf(plain), "-.info");
  plain.headers = {{"logship-service", "x"}, {"logship-level", "error"}};  // no logship-version: ignored
  EXPECT_EQ(routingKeyOf(plain), "-.info");
  Message aliased{"", {{"logship-version", "1"}, {"logship-level", "WARNING"}}, 0};
  EXPECT_EQ(routingKeyOf(aliased), "-.warn");
}

TEST(Topology, BindingKeys) {
  EXPECT_EQ(bindingKeys({}, Level::Trace), std::vector<std::string>{"#"});
  EXPECT_EQ(bindingKeys({}, Level::Error), (std::vector<std::string>{"#.error", "#.fatal"}));
  EXPECT_EQ(bindingKeys({"api"}, Level::Trace), std::vector<std::string>{"api.*"});
  EXPECT_EQ(bindingKeys({"api", "web"}, Level::Fatal), (std::vector<std::string>{"api.fatal", "web.fatal"}));
}

// Every record a filter selects is routed to the tail, whatever its service (dots, wildcard
// characters, empty words, over-long): never a miss, only sometimes more (filtered by the client).
TEST(Topology, BindingKeysNeverMissASelectedRecord) {
  const std::vector<std::string> services = {"api",
                                             "web",
                                             "a.b",
                                             "a",
                                             "*",
                                             "#",
                                             "x.*",
                                             "#.y",
                                             "",
                                             "..",
                                             "a.",
                                             ".a",
                                             "-",
                                             std::string(300, 'l'),
                                             std::string(kMaxServiceKeyBytes, 'l') + "tail"};
  size_t extra = 0;
  for (const auto& filterService : services) {
    for (Level minLevel : kLevels) {
      for (const bool anyService : {false, true}) {
        const auto bindings =
            bindingKeys(anyService ? std::vector<std::string>{} : std::vector{filterService}, minLevel);
        for (const auto& recordService : services) {
          for (Level level : kLevels) {
            const bool wanted = level >= minLevel && (anyService || recordService == filterService);
            const bool got = routed(bindings, routingKey(recordService, level));
            EXPECT_TRUE(got || !wanted) << "filter service '" << filterService << "' level " << levelName(minLevel)
                                        << " misses '" << recordService << "' " << levelName(level);
            if (got && !wanted) ++extra;
            const auto plain = [](const std::string& s) {
              return s.find_first_of(".*#") == std::string::npos && s.size() <= kMaxServiceKeyBytes;
            };
            if (anyService || (plain(filterService) && plain(recordService))) {
              EXPECT_EQ(got, wanted) << "exact: filter '" << filterService << "' (any: " << anyService << ") "
                                     << levelName(minLevel) << " vs '" << recordService << "' " << levelName(level);
            }
          }
        }
      }
    }
  }
  EXPECT_GT(extra, 0u);  // names with wildcards or cut names do select more (the model is not trivial)
}

TEST(TailFilter, LevelAndService) {
  ctl::TailFilter f;
  Record r;
  r.service = "api";
  r.level = Level::Warn;
  EXPECT_TRUE(f.matches(r));
  f.minLevel = Level::Error;
  EXPECT_FALSE(f.matches(r));
  r.level = Level::Fatal;
  EXPECT_TRUE(f.matches(r));
  f.services = {"web", "api"};
  EXPECT_TRUE(f.matches(r));
  r.service = "api2";
  EXPECT_FALSE(f.matches(r));
}

TEST(TailFilter, HostNameOrGlob) {
  ctl::TailFilter f;
  Record r;
  r.host = "web-12";
  f.hosts = {"web-12"};
  EXPECT_TRUE(f.matches(r));
  f.hosts = {"web-1"};  // a prefix is not the name
  EXPECT_FALSE(f.matches(r));
  f.hosts = {"db-*", "web-*"};
  EXPECT_TRUE(f.matches(r));
  f.hosts = {"web-?"};
  EXPECT_FALSE(f.matches(r));
  f.services = {"api"};  // every condition must hold
  f.hosts = {"web-*"};
  r.service = "db";
  EXPECT_FALSE(f.matches(r));
}

TEST(TailFilter, ServiceNames) {
  EXPECT_NO_THROW(ctl::validateServiceName("api"));
  EXPECT_NO_THROW(ctl::validateServiceName("a.b*#"));
  EXPECT_THROW(ctl::validateServiceName(""), UsageError);
  EXPECT_THROW(ctl::validateServiceName("a\nb"), UsageError);
  EXPECT_THROW(ctl::validateServiceName("tab\there"), UsageError);
}

TEST(RecordGaps, CountsSkippedNumbersPerInstance) {
  ctl::RecordGaps g;
  EXPECT_EQ(g.note("aaaa-5"), 0u);  // the first of an instance: nothing known before
  EXPECT_EQ(g.note("aaaa-6"), 0u);
  EXPECT_EQ(g.note("aaaa-10"), 3u);  // 7, 8, 9 dropped
  EXPECT_EQ(g.note("bbbb-1"), 0u);
  EXPECT_EQ(g.note("aaaa-11"), 0u);
  EXPECT_EQ(g.note("aaaa-8"), 0u);  // sent again after a reconnect: no gap, no going back
  EXPECT_EQ(g.note("aaaa-12"), 0u);
  EXPECT_EQ(g.note("bbbb-3"), 1u);
  EXPECT_EQ(g.note(""), 0u);  // a plain client's record has no id
  EXPECT_EQ(g.note("no-number-x"), 0u);
  EXPECT_EQ(g.note("file-5d0c9a7e31b2f480-1"), 0u);  // a followed file's line numbers: gaps are
  EXPECT_EQ(g.note("file-5d0c9a7e31b2f480-7"), 0u);  // continuation and empty lines
  EXPECT_EQ(g.missed(), 4u);
}

TEST(RecordIds, Split) {
  std::string_view instance;
  uint64_t n = 0;
  ASSERT_TRUE(splitRecordId("9e32e4cedc55ecc0-17", instance, n));
  EXPECT_EQ(instance, "9e32e4cedc55ecc0");
  EXPECT_EQ(n, 17u);
  EXPECT_FALSE(splitRecordId("x-", instance, n));
  EXPECT_FALSE(splitRecordId("-5", instance, n));
  EXPECT_FALSE(splitRecordId("x-05", instance, n));
  EXPECT_FALSE(splitRecordId("plain", instance, n));
}
