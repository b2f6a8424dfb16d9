// The metrics registry (metrics/registry.hpp): values, the Prometheus text exposition format,
// groups, health checks; --metrics-listen addresses and the HTTP endpoint on loopback.
#include <httplib.h>

#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "metrics/http_server.hpp"
#include "metrics/metric.hpp"
#include "metrics/registry.hpp"

namespace logship::metrics {
namespace {

TEST(Metrics, CounterAndGauge) {
  Counter c;
  EXPECT_EQ(c.value(), 0u);
  c.inc();
  c.inc(41);
  EXPECT_EQ(c.value(), 42u);
  Gauge g;
  g.set(3);
  g.add(-1.5);
  EXPECT_DOUBLE_EQ(g.value(), 1.5);
}

TEST(Metrics, CounterFromManyThreads) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

TEST(Metrics, HistogramBucketsAreUpperInclusive) {
  Histogram h({1, 2, 5});
  EXPECT_EQ(h.bucketOf(0), 0u);
  EXPECT_EQ(h.bucketOf(1), 0u);  // le="1" holds 1
  EXPECT_EQ(h.bucketOf(1.5), 1u);
  EXPECT_EQ(h.bucketOf(5), 2u);
  EXPECT_EQ(h.bucketOf(5.01), 3u);  // +Inf
  EXPECT_EQ(h.bucketOf(std::nan("")), 3u);
  for (double v : {0.5, 1.0, 2.0, 3.0, 100.0}) h.observe(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 106.5);
}

TEST(Metrics, HistogramBatchMergesAndEmpties) {
  Histogram h({10, 100});
  HistogramBatch batch(h);
  batch.observe(1);
  batch.observe(50);
  batch.observe(50);
  EXPECT_EQ(h.snapshot().count, 0u);  // nothing until merged
  h.merge(batch);
  EXPECT_EQ(batch.count(), 0u);
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 3, 3}));
  EXPECT_DOUBLE_EQ(s.sum, 101);
  h.merge(batch);  // an empty batch changes nothing
  EXPECT_EQ(h.snapshot().count, 3u);
  batch.observe(1000);
  h.merge(batch);
  s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 3, 4}));
}

TEST(Metrics, HistogramRefusesBadBounds) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST(Exposition, Escaping) {
  EXPECT_EQ(escapeLabelValue(R"(plain)"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escapeLabelValue("tab\tstays, ü stays"), "tab\tstays, ü stays");
  EXPECT_EQ(escapeHelp("back\\slash \"quotes\" stay\nnext"), R"(back\\slash "quotes" stay\nnext)");
}

TEST(Exposition, Values) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(-2), "-2");
  EXPECT_EQ(formatValue(0.001), "0.001");
  EXPECT_EQ(formatValue(2.5), "2.5");
  EXPECT_EQ(formatValue(1714000000.25), "1714000000.25");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
}

TEST(Exposition, ExactTextOfASmallRegistry) {
  Registry registry;
  Counter requests;
  requests.inc(3);
  Counter errors;
  Gauge temperature;
  temperature.set(-2.5);
  Histogram latency({0.5, 1});
  for (double v : {0.25, 0.5, 4.0}) latency.observe(v);
  Registry::Group group(registry);
  group.counter("test_requests_total", "Requests served,\nby path \\ method", requests, {{"path", "/a\"b\\c\nd"}})
      .counter("test_requests_total", "Requests served,\nby path \\ method", errors, {{"path", "/"}})
      .gauge("test_temperature_celsius", "Temperature", temperature)
      .counter("test_uptime_total", "From a function", [] { return uint64_t{18446744073709551615u}; })
      .histogram("test_latency_seconds", "Latency", latency, {{"op", "read"}, {"disk", "sda"}});
  EXPECT_EQ(registry.render(),
            "# HELP test_requests_total Requests served,\\nby path \\\\ method\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3\n"
            "test_requests_total{path=\"/\"} 0\n"
            "# HELP test_temperature_celsius Temperature\n"
            "# TYPE test_temperature_celsius gauge\n"
            "test_temperature_celsius -2.5\n"
            "# HELP test_uptime_total From a function\n"
            "# TYPE test_uptime_total counter\n"
            "test_uptime_total 18446744073709551615\n"
            "# HELP test_latency_seconds Latency\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{op=\"read\",disk=\"sda\",le=\"0.5\"} 2\n"
            "test_latency_seconds_bucket{op=\"read\",disk=\"sda\",le=\"1\"} 2\n"
            "test_latency_seconds_bucket{op=\"read\",disk=\"sda\",le=\"+Inf\"} 3\n"
            "test_latency_seconds_sum{op=\"read\",disk=\"sda\"} 4.75\n"
            "test_latency_seconds_count{op=\"read\",disk=\"sda\"} 3\n");
}

TEST(Exposition, HistogramWithoutLabelsOrObservations) {
  Registry registry;
  Histogram h({1});
  Registry::Group group(registry);
  group.histogram("x_seconds", "X", h);
  EXPECT_EQ(registry.render(),
            "# HELP x_seconds X\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"1\"} 0\nx_seconds_bucket{le=\"+Inf\"} 0\nx_seconds_sum 0\nx_seconds_count 0\n");
}

TEST(Registry, GroupsShareFamiliesAndRemoveWhatTheyAdded) {
  Registry registry;
  Counter a;
  Counter b;
  a.inc();
  b.inc(2);
  auto first = std::make_unique<Registry::Group>(registry);
  first->counter("x_errors_total", "Errors", a, {{"kind", "broker"}});
  {
    Registry::Group second(registry);
    second.counter("x_errors_total", "Errors", b, {{"kind", "write"}}).gauge("x_up", "Up", [] { return 1.0; });
    EXPECT_EQ(registry.render(),
              "# HELP x_errors_total Errors\n# TYPE x_errors_total counter\n"
              "x_errors_total{kind=\"broker\"} 1\nx_errors_total{kind=\"write\"} 2\n"
              "# HELP x_up Up\n# TYPE x_up gauge\nx_up 1\n");
  }
  EXPECT_EQ(registry.render(),
            "# HELP x_errors_total Errors\n# TYPE x_errors_total counter\nx_errors_total{kind=\"broker\"} 1\n");
  first.reset();
  EXPECT_EQ(registry.render(), "");
}

TEST(Registry, RefusesInconsistentRegistrations) {
  Registry registry;
  Counter c;
  Gauge g;
  Histogram h({1});
  Registry::Group group(registry);
  EXPECT_THROW(group.counter("no_suffix", "x", c), std::logic_error);
  EXPECT_THROW(group.counter("bad-name_total", "x", c), std::logic_error);
  EXPECT_THROW(group.counter("9lives_total", "x", c), std::logic_error);
  EXPECT_THROW(group.counter("x_total", "x", c, {{"bad-label", "v"}}), std::logic_error);
  EXPECT_THROW(group.counter("x_total", "x", c, {{"__reserved", "v"}}), std::logic_error);
  EXPECT_THROW(group.histogram("h_seconds", "x", h, {{"le", "1"}}), std::logic_error);
  group.counter("x_total", "x", c, {{"kind", "a"}});
  EXPECT_THROW(group.counter("x_total", "x", c, {{"kind", "a"}}), std::logic_error);      // same labels
  EXPECT_THROW(group.counter("x_total", "other", c, {{"kind", "b"}}), std::logic_error);  // other help
  EXPECT_THROW(group.gauge("x_total", "x", g), std::logic_error);                         // other type
}

TEST(Registry, HealthIsTheFirstFailingCheck) {
  Registry registry;
  bool brokerUp = true;
  bool writable = true;
  Registry::Group group(registry);
  group.health([&]() -> std::optional<std::string> {
    if (brokerUp) return std::nullopt;
    return std::string("not connected");
  });
  EXPECT_EQ(registry.unhealthy(), std::nullopt);
  {
    Registry::Group more(registry);
    more.health([&]() -> std::optional<std::string> {
      if (writable) return std::nullopt;
      return std::string("cannot write");
    });
    writable = false;
    EXPECT_EQ(registry.unhealthy(), "cannot write");
    brokerUp = false;
    EXPECT_EQ(registry.unhealthy(), "not connected");
  }
  brokerUp = true;
  EXPECT_EQ(registry.unhealthy(), std::nullopt);  // the failing check left with its group
}

TEST(ListenAddress, Parses) {
  auto a = parseListenAddress("127.0.0.1:9464");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 9464);
  EXPECT_EQ(a.text(), "127.0.0.1:9464");
  a = parseListenAddress("[::1]:0");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 0);
  EXPECT_EQ(a.text(), "[::1]:0");
  a = parseListenAddress("localhost:65535");
  EXPECT_EQ(a.host, "localhost");
  EXPECT_EQ(a.port, 65535);
  EXPECT_EQ(parseListenAddress("[::]:9464").text(), "[::]:9464");
}

TEST(ListenAddress, RefusesBadOnesNamingFlagAndText) {
  for (const char* bad : {"9464", ":9464", "::1:9464", "[::1]9464", "[::1", "[]:80", "host:65536", "host:-1",
                          "host:abc", "host:", "host:99999999999", "a b:1", "host:80x"}) {
    try {
      parseListenAddress(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--metrics-listen"), std::string::npos) << what;
      EXPECT_NE(what.find(std::string("'") + bad), std::string::npos) << what;
    }
  }
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    group_.counter("t_hits_total", "Hits", hits_).health([this]() -> std::optional<std::string> {
      if (healthy_) return std::nullopt;
      return std::string("broker down");
    });
  }
  Registry registry_;
  Counter hits_;
  std::atomic<bool> healthy_{true};
  Registry::Group group_{registry_};
};

TEST_F(HttpServerTest, ServesMetricsAndHealthOnAFreePort) {
  HttpServer server(parseListenAddress("127.0.0.1:0"), registry_);
  ASSERT_NE(server.address().port, 0);
  EXPECT_EQ(server.address().host, "127.0.0.1");
  httplib::Client client("127.0.0.1", server.address().port);
  hits_.inc(7);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->body, "# HELP t_hits_total Hits\n# TYPE t_hits_total counter\nt_hits_total 7\n");
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
  healthy_ = false;
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "broker down\n");
  res = client.Get("/nothing-here");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(HttpServerTest, APortInUseIsAnErrorNamingIt) {
  HttpServer first(parseListenAddress("127.0.0.1:0"), registry_);
  const auto taken = first.address();
  try {
    HttpServer second(taken, registry_);
    FAIL() << "a second server bound " << taken.text();
  } catch (const UsageError&) {
    FAIL() << "a port in use is not a usage error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--metrics-listen " + taken.text()), std::string::npos) << what;
    EXPECT_NE(what.find("Address already in use"), std::string::npos) << what;
  }
}

TEST_F(HttpServerTest, ServesOnIpv6Loopback) {
  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(parseListenAddress("[::1]:0"), registry_);
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(server->address().text(), "[::1]:" + std::to_string(server->address().port));
  httplib::Client client("::1", server->address().port);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, StopsPromptlyAndFreesThePort) {
  ListenAddress bound;
  {
    HttpServer server(parseListenAddress("127.0.0.1:0"), registry_);
    bound = server.address();
  }
  HttpServer again(bound, registry_);  // the same port can be bound again at once
  EXPECT_EQ(again.address().port, bound.port);
}

}  // namespace
}  // namespace logship::metrics
