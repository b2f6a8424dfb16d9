// The programs' flag checks (apps/plans.hpp): argv parsed by the real CLI11 apps, then planned.
#include "plans.hpp"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.hpp"

using namespace logship;

namespace {

// Parses `args` with the program's flags (and an optional configuration file) as cli::run does.
template <typename Settings>
struct Parsed {
  CLI::App app;
  Settings settings;
  cli::Configuration config;

  template <typename Define>
  Parsed(Define define, std::vector<std::string> args) {
    define(app, settings);
    cli::addConfigFlags(app);
    args.insert(args.begin(), app.get_name());
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    config = cli::configure(app, static_cast<int>(argv.size()), argv.data(), {});
  }
};

// The UsageError of planning `args`, or "" when they plan.
std::string producerError(std::vector<std::string> args) {
  Parsed<apps::ProducerSettings> p(apps::defineProducer, std::move(args));
  try {
    apps::planProducer(p.app, p.settings, p.config);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

std::string aggregatorError(std::vector<std::string> args) {
  Parsed<apps::AggregatorSettings> p(apps::defineAggregator, std::move(args));
  try {
    apps::planAggregator(p.settings);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

std::string configFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << content;
  return path;
}

bool startsWith(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

TEST(ProgramPlans, ProducerTranslatesSettingsIntoOptions) {
  ::unsetenv("LOGSHIP_SPOOL_DIR");
  Parsed<apps::ProducerSettings> p(apps::defineProducer, {"--level",
                                                          "warn",
                                                          "--service",
                                                          "api",
                                                          "--host",
                                                          "h1",
                                                          "--field",
                                                          "env=prod",
                                                          "--confirm-timeout",
                                                          "2.5",
                                                          "--linger-ms",
                                                          "7",
                                                          "--spool-dir",
                                                          "/tmp/spool",
                                                          "--spool-max-bytes",
                                                          "8M",
                                                          "--spool-full",
                                                          "drop",
                                                          "--wait-timeout",
                                                          "1.5",
                                                          "hello",
                                                          "world"});
  const apps::ProducerPlan plan = apps::planProducer(p.app, p.settings, p.config);
  EXPECT_EQ(plan.recordTemplate.level, Level::Warn);
  EXPECT_EQ(plan.recordTemplate.service, "api");
  EXPECT_EQ(plan.recordTemplate.host, "h1");
  EXPECT_EQ(plan.recordTemplate.fields, (std::vector<Field>{{"env", "prod"}}));
  EXPECT_EQ(plan.ship.confirmTimeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(plan.ship.linger, std::chrono::milliseconds(7));
  EXPECT_EQ(plan.ship.spoolLimits.maxBytes, size_t{8} << 20);
  EXPECT_TRUE(plan.ship.spoolLimits.dropWhenFull);
  EXPECT_EQ(plan.waitTimeout, std::chrono::milliseconds(1500));
  EXPECT_TRUE(plan.sendsMessage);
  EXPECT_EQ(plan.message, "hello world");
  EXPECT_FALSE(plan.follow);
}

TEST(ProgramPlans, ProducerRefusesBadRecordSettings) {
  EXPECT_EQ(producerError({"--level", "loud", "x"}), "--level 'loud': use trace, debug, info, warn, error or fatal");
  EXPECT_EQ(producerError({"--service", "", "x"}),
            "--service '': the name is empty (without --service the records have the service '-')");
  EXPECT_EQ(producerError({"--host", "a\tb", "x"}),
            "--host 'a\\tb': the name contains a control character (without --host the records have this machine's "
            "name)");
  EXPECT_EQ(producerError({"--field", "novalue", "x"}), "--field 'novalue': expected KEY=VALUE");
  EXPECT_EQ(producerError({"--field", "a b=1", "x"}),
            "--field 'a b': keys may hold only letters, digits, '_', '.' and '-'");
  EXPECT_EQ(producerError({"--max-message-bytes", "8", "hello", "world"}),
            "message of 11 bytes is over the limit of 8 bytes (--max-message-bytes)");
}

TEST(ProgramPlans, ProducerSpoolFlagsNeedSpoolDirOnTheCommandLineOnly) {
  ::unsetenv("LOGSHIP_SPOOL_DIR");
  EXPECT_EQ(producerError({"--spool-full", "drop", "x"}), "--spool-max-bytes and --spool-full need --spool-dir");
  EXPECT_EQ(producerError({"--spool-max-bytes", "2M", "x"}), "--spool-max-bytes and --spool-full need --spool-dir");
  EXPECT_EQ(producerError({"--spool-dir", "/tmp/s", "--spool-max-bytes", "2M", "--max-message-bytes", "1M", "x"}),
            "--spool-max-bytes 2097152 is too small for --max-message-bytes 1048576: give it at least 4 times as much");
  // A host's file serves producers with and without a spool: its spool settings are no error.
  const std::string path = configFile("logship_plan_spool.toml", "[log_producer]\nspool-full = \"drop\"\n");
  EXPECT_EQ(producerError({"--config", path, "x"}), "");
}

TEST(ProgramPlans, ProducerMultilineAndSyslogChecks) {
  EXPECT_EQ(producerError({"--multiline-start", "^x", "--multiline-indented"}),
            "--multiline-start and --multiline-indented exclude each other: give one of them");
  EXPECT_EQ(producerError({"--multiline-max-lines", "5"}),
            "--multiline-max-lines and --multiline-timeout need --multiline-start or --multiline-indented");
  const std::string path = configFile("logship_plan_multiline.toml", "[log_producer]\nmultiline-timeout = 3\n");
  EXPECT_EQ(producerError({"--config", path}), "");
  EXPECT_EQ(producerError({"--syslog-udp", "127.0.0.1:0", "x"}),
            "MESSAGE arguments cannot be combined with --syslog-udp or --syslog-tcp");
}

TEST(ProgramPlans, ProducerFollowChecksAndStateFile) {
  ::unsetenv("LOGSHIP_SPOOL_DIR");
  EXPECT_EQ(producerError({"--state-file", "s"}), "--state-file needs --follow");
  EXPECT_EQ(producerError({"--from-beginning"}), "--from-beginning needs --follow");
  EXPECT_EQ(producerError({"--follow", "a.log", "--state-file", "s", "x"}),
            "--follow reads files: give no MESSAGE with it");
  EXPECT_TRUE(startsWith(producerError({"--follow", "a.log"}), "--follow needs --state-file PATH"));
  Parsed<apps::ProducerSettings> p(apps::defineProducer,
                                   {"--follow", "a.log", "--spool-dir", "/tmp/s", "--multiline-indented",
                                    "--max-message-bytes", "4K", "--poll-interval", "0.5"});
  const apps::ProducerPlan plan = apps::planProducer(p.app, p.settings, p.config);
  ASSERT_TRUE(plan.follow);
  EXPECT_EQ(plan.follow->stateFile, "/tmp/s/follow.state");
  EXPECT_EQ(plan.follow->patterns, std::vector<std::string>{"a.log"});
  EXPECT_EQ(plan.follow->maxLineBytes, 4096u);
  EXPECT_EQ(plan.follow->pollInterval, std::chrono::milliseconds(500));
  EXPECT_EQ(plan.follow->multiline.rule.mode(), MultilineRule::Mode::Indented);
  EXPECT_FALSE(plan.sendsMessage);
}

TEST(ProgramPlans, AggregatorTranslatesSettingsIntoOptions) {
  Parsed<apps::AggregatorSettings> p(apps::defineAggregator, {"--queue",
                                                              "app",
                                                              "--fsync",
                                                              "--file-mode",
                                                              "600",
                                                              "--idle-exit",
                                                              "2",
                                                              "--write-retry-seconds",
                                                              "3",
                                                              "--rotate-bytes",
                                                              "1M",
                                                              "--keep",
                                                              "4",
                                                              "--stream-from",
                                                              "last",
                                                              "--route",
                                                              "level>=error:errors.log",
                                                              "--unrouted-only",
                                                              "--lease-seconds",
                                                              "9",
                                                              "-o",
                                                              "out.log"});
  const apps::AggregatorPlan plan = apps::planAggregator(p.settings);
  EXPECT_EQ(plan.consumer.queue, "app");
  EXPECT_EQ(plan.consumer.leaseTtl, std::chrono::milliseconds(9000));
  EXPECT_NE(plan.consumer.consumerId.find("out.log"), std::string::npos) << plan.consumer.consumerId;
  EXPECT_EQ(plan.collector.idleExit, std::chrono::milliseconds(2000));
  EXPECT_EQ(plan.collector.writeRetryFor, std::chrono::milliseconds(3000));
  EXPECT_TRUE(plan.dedup.fsync);
  EXPECT_EQ(plan.file.mode, mode_t{0600});
  EXPECT_EQ(plan.rotation.maxBytes, uint64_t{1} << 20);
  EXPECT_EQ(plan.rotation.keep, 4u);
  EXPECT_EQ(plan.streamStart.kind, StreamStart::Kind::Last);
  ASSERT_EQ(plan.routes.size(), 1u);
  EXPECT_EQ(plan.routes[0].file, "errors.log");
}

TEST(ProgramPlans, AggregatorRefusesBadFlags) {
  EXPECT_EQ(aggregatorError({"--keep", "3"}),
            "--keep applies to rotated files: give --rotate-bytes or --rotate-interval too");
  EXPECT_EQ(aggregatorError({"--compress", "none"}),
            "--compress applies to rotated files: give --rotate-bytes or --rotate-interval too");
  EXPECT_EQ(aggregatorError({"--stream-from", "yesterday"}),
            "--stream-from: 'yesterday' is not first, last, next, an offset or a time such as 2026-12-06T08:00:00Z");
  EXPECT_EQ(aggregatorError({"--unrouted-only"}),
            "--unrouted-only: there is no --route, so every record would go to --output anyway");
  EXPECT_NE(aggregatorError({"--route", "nonsense"}), "");
  EXPECT_EQ(aggregatorError({"--consumer-id", "a b"}), "--consumer-id: 'a b' contains a space or control character");
  EXPECT_EQ(aggregatorError({"--consumer-id", ""}), "--consumer-id: must be 1 to 200 bytes long");
  EXPECT_EQ(aggregatorError({"--shard-ids", "1"}), "--shard-ids: give --shards N too (the queue's number of shards)");
  EXPECT_TRUE(startsWith(aggregatorError({"--shards", "2", "--shard-ids", "5"}), "--shard-ids: there is no shard 5"));
  EXPECT_EQ(aggregatorError({"--shards", "2", "--shard-ids", "1"}), "");
}
