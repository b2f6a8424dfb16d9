// Routing rules (aggregator/route.hpp: parsing, every error message, matching) and the Router's
// choice of outputs (aggregator/router.hpp): pure logic, no broker.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "aggregator/file_sink.hpp"
#include "aggregator/route.hpp"
#include "aggregator/router.hpp"
#include "core/error.hpp"
#include "support/temp_dir.hpp"

using namespace logship;

namespace {

Record meta(Level level, std::string service = "-", std::string host = "-") {
  Record r;
  r.level = level;
  r.service = std::move(service);
  r.host = std::move(host);
  return r;
}

// The message of the UsageError parsing `rule` throws ("" if none).
std::string parseError(const std::string& rule) {
  try {
    parseRouteRule(rule);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

std::string routesError(const std::vector<std::string>& rules, const std::string& output = "aggregated_logs.txt") {
  try {
    parseRoutes(rules, output);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RouteRule, ParsesConditionsAndFile) {
  const RouteRule r = parseRouteRule("level>=error:errors.log");
  EXPECT_EQ(r.rule, "level>=error:errors.log");
  EXPECT_EQ(r.file, "errors.log");
  ASSERT_EQ(r.conditions.size(), 1u);
  EXPECT_EQ(r.conditions[0].key, RouteCondition::Key::Level);
  EXPECT_EQ(r.conditions[0].op, RouteCondition::Op::Ge);
  EXPECT_EQ(r.conditions[0].level, Level::Error);
  EXPECT_EQ(r.conditionsText(), "level>=error");

  const RouteRule all = parseRouteRule(
      "level=warn,level!=fatal,level>info,level<=error,level<fatal,service=api,"
      "service!=web,host=h1,host!=h2:/var/log/x.log");
  EXPECT_EQ(all.file, "/var/log/x.log");
  EXPECT_EQ(all.conditionsText(),
            "level=warn,level!=fatal,level>info,level<=error,level<fatal,service=api,service!=web,host=h1,host!=h2");
}

TEST(RouteRule, IgnoresSpacesAroundTermsOperatorsValuesAndTheFile) {
  const RouteRule r = parseRouteRule(" level >= ERR ,\tservice = my app  :  logs/errors.log ");
  EXPECT_EQ(r.file, "logs/errors.log");
  EXPECT_EQ(r.conditionsText(), "level>=error,service=my app") << "level aliases and case; spaces inside a value kept";
  EXPECT_EQ(parseRouteRule("level>=warning:w.log").conditionsText(), "level>=warn");
  EXPECT_EQ(parseRouteRule("level=crit:f.log").conditionsText(), "level=fatal");
}

TEST(RouteRule, FileIsEverythingAfterTheFirstColon) {
  const RouteRule r = parseRouteRule("service=api:logs/a:b.log");
  EXPECT_EQ(r.file, "logs/a:b.log");
  EXPECT_EQ(r.conditionsText(), "service=api");
}

TEST(RouteRule, GlobsAreRecognised) {
  EXPECT_FALSE(parseRouteRule("service=api:a.log").conditions[0].glob);
  for (const char* rule : {"service=api-*:a.log", "service=ap?:a.log", "host=web[12]:a.log", "service=a\\*:a.log"}) {
    EXPECT_TRUE(parseRouteRule(rule).conditions[0].glob) << rule;
  }
}

TEST(RouteRule, EveryMalformedRuleIsAUsageErrorNamingTheRuleAndTheProblem) {
  struct Case {
    std::string rule;
    std::string message;
  };
  const std::vector<Case> cases{
      {"level>=error",
       "--route 'level>=error': no ':' between the conditions and the file (the form is CONDITIONS:FILE, e.g. "
       "level>=error:errors.log)"},
      {":errors.log", "--route ':errors.log': no condition before ':' (e.g. level>=error or service=api)"},
      {"  :errors.log", "--route '  :errors.log': no condition before ':' (e.g. level>=error or service=api)"},
      {"level>=error:", "--route 'level>=error:': no file after ':'"},
      {"level>=error:  ", "--route 'level>=error:  ': no file after ':'"},
      {"level>=error:a\x01.log", "--route 'level>=error:a\\x01.log': the file name contains a control character"},
      {"level>=error:errors.log.ids",
       "--route 'level>=error:errors.log.ids': 'errors.log.ids': names ending in .ids are the duplicate journals' "
       "(and logctl search skips them)"},
      {"level>=error:logs/app.log.20261127T140000Z",
       "--route 'level>=error:logs/app.log.20261127T140000Z': 'logs/app.log.20261127T140000Z' is named like a rotated "
       "file (NAME.<time>Z): rotation and retention of NAME would take it for theirs"},
      {"level>=error,,service=api:e.log",
       "--route 'level>=error,,service=api:e.log': an empty condition (two commas, or a comma at the start or the "
       "end)"},
      {"level>=error,:e.log",
       "--route 'level>=error,:e.log': an empty condition (two commas, or a comma at the start or the end)"},
      {">=error:e.log",
       "--route '>=error:e.log': condition '>=error' does not start with a key (level, service or host)"},
      {"severity>=error:e.log",
       "--route 'severity>=error:e.log': unknown key 'severity' in 'severity>=error' (the keys are level, service and "
       "host)"},
      {"Level>=error:e.log",
       "--route 'Level>=error:e.log': unknown key 'Level' in 'Level>=error' (the keys are level, service and host)"},
      {"level error:e.log",
       "--route 'level error:e.log': 'level error': expected an operator (=, !=, >=, >, <=, <) after 'level'"},
      {"level!error:e.log",
       "--route 'level!error:e.log': 'level!error': expected an operator (=, !=, >=, >, <=, <) after 'level'"},
      {"level>=:e.log", "--route 'level>=:e.log': 'level>=': no value after '>='"},
      {"service= :e.log", "--route 'service= :e.log': 'service=': no value after '='"},
      {"level==error:e.log",
       "--route 'level==error:e.log': 'level==error': unknown operator (the operators are =, !=, >=, >, <=, <)"},
      {"level=>error:e.log",
       "--route 'level=>error:e.log': 'level=>error': unknown operator (the operators are =, !=, >=, >, <=, <)"},
      {"level<>error:e.log",
       "--route 'level<>error:e.log': 'level<>error': unknown operator (the operators are =, !=, >=, >, <=, <)"},
      {"service=a\x7f"
       "b:e.log",
       "--route 'service=a\\x7fb:e.log': 'service=a\\x7fb': the value contains a control character"},
      {"level>=shouting:e.log",
       "--route 'level>=shouting:e.log': unknown level 'shouting' (the levels are trace, debug, info, warn, error, "
       "fatal)"},
      {"service>=api:e.log",
       "--route 'service>=api:e.log': 'service>=api': service takes = or != (only level is ordered)"},
      {"host<h:e.log", "--route 'host<h:e.log': 'host<h': host takes = or != (only level is ordered)"},
  };
  for (const Case& c : cases) EXPECT_EQ(parseError(c.rule), c.message) << c.rule;
}

TEST(RouteRules, CheckedTogether) {
  EXPECT_EQ(routesError({"level>=error:errors.log", "service=api:api.log"}), "");
  EXPECT_EQ(
      routesError({"level>=error:errors.log", "service=api:./errors.log"}),
      "--route 'service=api:./errors.log': './errors.log' is already the file of route 'level>=error:errors.log': "
      "one route per file (a record goes to every route it matches)");
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(routesError({"level>=error:errors.log", fmt::format("service=api:{}/sub/../errors.log", cwd)}),
            fmt::format("--route 'service=api:{0}/sub/../errors.log': '{0}/sub/../errors.log' is already the file of "
                        "route 'level>=error:errors.log': one route per file (a record goes to every route it matches)",
                        cwd));
  EXPECT_EQ(routesError({"level>=error:aggregated_logs.txt"}),
            "--route 'level>=error:aggregated_logs.txt': 'aggregated_logs.txt' is the default output (--output), which "
            "gets its records anyway (see --unrouted-only)");
  EXPECT_EQ(routesError({"level>=error:out/../all.log"}, "all.log"),
            "--route 'level>=error:out/../all.log': 'out/../all.log' is the default output (--output), which gets its "
            "records anyway (see --unrouted-only)");
  // The first bad rule is named, syntax first.
  EXPECT_EQ(routesError({"level>=error:errors.log", "level>>error:x.log"}),
            "--route 'level>>error:x.log': 'level>>error': unknown operator (the operators are =, !=, >=, >, <=, <)");
  std::vector<std::string> many;
  for (size_t i = 0; i < kMaxRoutes; ++i) many.push_back(fmt::format("service=s{0}:s{0}.log", i));
  EXPECT_EQ(parseRoutes(many, "all.log").size(), kMaxRoutes);
  many.push_back("service=one-more:more.log");
  EXPECT_EQ(routesError(many), "--route 'service=one-more:more.log': too many routes (at most 32)");
}

TEST(RouteCondition, LevelOperatorsFollowTheLevelOrder) {
  const std::vector<Level> levels{Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal};
  struct Op {
    const char* text;
    bool (*expect)(int have, int want);
  };
  const std::vector<Op> ops{{"=", [](int h, int w) { return h == w; }},  {"!=", [](int h, int w) { return h != w; }},
                            {">=", [](int h, int w) { return h >= w; }}, {">", [](int h, int w) { return h > w; }},
                            {"<=", [](int h, int w) { return h <= w; }}, {"<", [](int h, int w) { return h < w; }}};
  for (const Op& op : ops) {
    for (Level want : levels) {
      const RouteRule r = parseRouteRule(fmt::format("level{}{}:x.log", op.text, levelName(want)));
      for (Level have : levels) {
        EXPECT_EQ(r.matches(meta(have)), op.expect(static_cast<int>(have), static_cast<int>(want)))
            << r.rule << " on " << levelName(have);
      }
    }
  }
}

TEST(RouteCondition, ServiceAndHostExactOrGlob) {
  const RouteRule exact = parseRouteRule("service=api:x.log");
  EXPECT_TRUE(exact.matches(meta(Level::Info, "api")));
  EXPECT_FALSE(exact.matches(meta(Level::Info, "api-v2")));
  EXPECT_FALSE(exact.matches(meta(Level::Info, "API")));
  EXPECT_FALSE(exact.matches(meta(Level::Info, "-")));

  const RouteRule glob = parseRouteRule("service=api-*:x.log");
  EXPECT_TRUE(glob.matches(meta(Level::Info, "api-v2")));
  EXPECT_TRUE(glob.matches(meta(Level::Info, "api-")));
  EXPECT_TRUE(glob.matches(meta(Level::Info, "api-a/b"))) << "no path semantics: * matches /";
  EXPECT_FALSE(glob.matches(meta(Level::Info, "api")));

  const RouteRule not_ = parseRouteRule("service!=web*:x.log");
  EXPECT_TRUE(not_.matches(meta(Level::Info, "api")));
  EXPECT_FALSE(not_.matches(meta(Level::Info, "webshop")));

  const RouteRule host = parseRouteRule("host=db[0-9]:x.log");
  EXPECT_TRUE(host.matches(meta(Level::Info, "-", "db3")));
  EXPECT_FALSE(host.matches(meta(Level::Info, "-", "db10")));
  const RouteRule literal = parseRouteRule("service=a\\*:x.log");
  EXPECT_TRUE(literal.matches(meta(Level::Info, "a*")));
  EXPECT_FALSE(literal.matches(meta(Level::Info, "ab")));
}

TEST(RouteRule, AllConditionsMustHold) {
  const RouteRule r = parseRouteRule("level>=warn,service=api-*,host!=canary:x.log");
  EXPECT_TRUE(r.matches(meta(Level::Error, "api-1", "web-1")));
  EXPECT_FALSE(r.matches(meta(Level::Info, "api-1", "web-1")));
  EXPECT_FALSE(r.matches(meta(Level::Error, "web", "web-1")));
  EXPECT_FALSE(r.matches(meta(Level::Error, "api-1", "canary")));
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"all.log", "errors.log", "api.log"}) {
      sinks_.push_back(std::make_unique<FileSink>(dir_ / name));
    }
  }

  logship::testing::TempDir dir_;
  std::vector<std::unique_ptr<FileSink>> sinks_;
};

TEST_F(RouterTest, EveryMatchingRouteAndTheDefaultOutput) {
  Router router(*sinks_[0]);
  EXPECT_EQ(router.select(meta(Level::Error, "api")), 1u) << "no route: the default output";
  router.addRoute(parseRouteRule("level>=error:errors.log"), *sinks_[1]);
  router.addRoute(parseRouteRule("service=api:api.log"), *sinks_[2]);
  EXPECT_EQ(router.size(), 3u);
  EXPECT_EQ(router.routes(), 2u);
  EXPECT_EQ(router.select(meta(Level::Info, "web")), 0b001u);
  EXPECT_EQ(router.select(meta(Level::Error, "web")), 0b011u);
  EXPECT_EQ(router.select(meta(Level::Info, "api")), 0b101u);
  EXPECT_EQ(router.select(meta(Level::Fatal, "api")), 0b111u);
  EXPECT_EQ(router.routeLabel(0), "default");
  EXPECT_EQ(router.routeLabel(1), "level>=error");
  EXPECT_EQ(router.routeLabel(2), "service=api");
}

TEST_F(RouterTest, UnroutedOnlySplitsInsteadOfCopying) {
  Router router(*sinks_[0], true);
  router.addRoute(parseRouteRule("level>=error:errors.log"), *sinks_[1]);
  router.addRoute(parseRouteRule("service=api:api.log"), *sinks_[2]);
  EXPECT_EQ(router.select(meta(Level::Info, "web")), 0b001u);
  EXPECT_EQ(router.select(meta(Level::Error, "web")), 0b010u);
  EXPECT_EQ(router.select(meta(Level::Info, "api")), 0b100u);
  EXPECT_EQ(router.select(meta(Level::Fatal, "api")), 0b110u) << "still every matching route";
}

namespace {

struct Recorder : OutputMaintenance {
  std::vector<std::pair<size_t, bool>> calls;
  void betweenCommits(size_t upcomingBytes, bool reopen) noexcept override {
    calls.emplace_back(upcomingBytes, reopen);
  }
};

}  // namespace

TEST_F(RouterTest, MaintenancePerOutputAndSighupReachesEveryOutput) {
  Router router(*sinks_[0]);
  router.addRoute(parseRouteRule("level>=error:errors.log"), *sinks_[1]);
  Recorder first;
  Recorder second;
  router.setMaintenance(0, &first);
  router.setMaintenance(1, &second);
  std::atomic<bool> hup{false};
  router.setReopenRequest(&hup);
  sinks_[1]->append("x\n");
  router.maintain();
  hup = true;
  router.maintain();
  router.maintain();
  EXPECT_FALSE(hup.load()) << "taken";
  EXPECT_EQ(first.calls, (std::vector<std::pair<size_t, bool>>{{0, false}, {0, true}, {0, false}}));
  EXPECT_EQ(second.calls, (std::vector<std::pair<size_t, bool>>{{2, false}, {2, true}, {2, false}}));
  sinks_[1]->flush(false);
}

TEST_F(RouterTest, AnOutputHeldAfterAWriteErrorKeepsItsSighupUntilItCanBeSwitched) {
  FileSink full("/dev/full");  // every write fails with ENOSPC
  Router router(*sinks_[0]);
  router.addRoute(parseRouteRule("level>=error:full.log"), full);
  Recorder first;
  Recorder held;
  router.setMaintenance(0, &first);
  router.setMaintenance(1, &held);
  std::atomic<bool> hup{false};
  router.setReopenRequest(&hup);
  full.append("x\n");
  EXPECT_THROW(full.flush(false), SinkError);
  ASSERT_FALSE(full.atLineBoundary());
  hup = true;
  router.maintain();
  EXPECT_EQ(first.calls, (std::vector<std::pair<size_t, bool>>{{0, true}}));
  EXPECT_TRUE(held.calls.empty()) << "never while a failed write is held";
  full.discard();  // given up: at a line boundary again
  router.maintain();
  EXPECT_EQ(held.calls, (std::vector<std::pair<size_t, bool>>{{0, true}})) << "its SIGHUP waited";
  EXPECT_EQ(first.calls.size(), 2u);
  EXPECT_FALSE(first.calls.back().second);
}
