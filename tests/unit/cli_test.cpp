#include "cli/common.hpp"

#include <cstdlib>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include "broker/resolve.hpp"
#include "core/error.hpp"
#include "programs.hpp"

using namespace logship;

TEST(CliOptions, QueueNamesAreValidated) {
  EXPECT_NO_THROW(cli::validateQueueName("logs_queue"));
  EXPECT_THROW(cli::validateQueueName(""), UsageError);
  EXPECT_THROW(cli::validateQueueName(std::string(300, 'q')), UsageError);
  EXPECT_THROW(cli::validateQueueName("bad\nname"), UsageError);
  EXPECT_THROW(cli::validateQueueName("amq.reserved"), UsageError);
}

TEST(CliOptions, PasswordSources) {
  cli::BrokerFlags flags;
  ::unsetenv("LOGSHIP_PASSWORD");
  flags.url = "amqp://alice:fromurl@h/";
  EXPECT_EQ(cli::resolveBroker(flags, "t").url.password, "fromurl");

  ::setenv("LOGSHIP_PASSWORD", "fromenv", 1);
  EXPECT_EQ(cli::resolveBroker(flags, "t").url.password, "fromenv");

  const std::string path = ::testing::TempDir() + "/logship_pw";
  std::ofstream(path) << "fromfile\n";
  flags.passwordFile = path;
  const BrokerOptions o = cli::resolveBroker(flags, "t");
  EXPECT_EQ(o.url.password, "fromfile");  // trailing newline removed
  EXPECT_EQ(o.url.user, "alice");
  EXPECT_EQ(o.url.redacted().find("fromfile"), std::string::npos);
  ::unsetenv("LOGSHIP_PASSWORD");
}

TEST(CliOptions, DefaultsAndDurations) {
  cli::BrokerFlags flags;
  flags.retrySeconds = 2.5;
  const BrokerOptions o = cli::resolveBroker(flags, "t");
  EXPECT_EQ(o.url.host, "localhost");
  EXPECT_EQ(o.url.port, 5672);
  EXPECT_EQ(o.retryFor, std::chrono::milliseconds(2500));
  EXPECT_EQ(o.clientName, "t");
}

TEST(CliOptions, EmptyPasswordFileIsAnError) {
  cli::BrokerFlags flags;
  const std::string path = ::testing::TempDir() + "/logship_pw_empty";
  std::ofstream(path) << "";
  flags.passwordFile = path;
  EXPECT_THROW(cli::resolveBroker(flags, "t"), UsageError);
}

namespace {

// The UsageError message resolveBroker throws for `flags`, or "" if it accepts them.
std::string usageError(const cli::BrokerFlags& flags) {
  try {
    cli::resolveBroker(flags, "t");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

std::string writeFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

}  // namespace

TEST(CliTls, FilesAreCarriedInBrokerOptions) {
  cli::BrokerFlags flags;
  flags.url = "amqps://mq.example/";
  flags.tlsCa = writeFile("logship_ca.pem", "ca");
  flags.tlsCert = writeFile("logship_cert.pem", "cert");
  flags.tlsKey = writeFile("logship_key.pem", "key");
  const BrokerOptions o = cli::resolveBroker(flags, "t");
  EXPECT_EQ(o.url.port, 5671);
  EXPECT_EQ(o.tls.caFile, flags.tlsCa);
  EXPECT_EQ(o.tls.certFile, flags.tlsCert);
  EXPECT_EQ(o.tls.keyFile, flags.tlsKey);

  cli::BrokerFlags plain;  // no TLS flags: the system's CA store, no client certificate
  plain.url = "amqps://mq.example/";
  EXPECT_TRUE(cli::resolveBroker(plain, "t").tls.caFile.empty());
}

TEST(CliTls, TlsFlagsNeedAnAmqpsUrl) {
  cli::BrokerFlags flags;
  flags.tlsCa = writeFile("logship_ca2.pem", "ca");
  EXPECT_EQ(usageError(flags), "--tls-ca needs an amqps:// broker URL, not amqp://");  // the default URL
  flags.url = "redis://cache.example";
  EXPECT_NE(usageError(flags).find("--tls-ca needs an amqps:// broker URL, not redis://"), std::string::npos);
  EXPECT_NE(usageError(flags).find("hiredis 0.14 has no TLS"), std::string::npos);
  flags.tlsCa.clear();
  flags.tlsKey = "key.pem";
  EXPECT_EQ(usageError(flags).rfind("--tls-key needs an amqps:// broker URL", 0), 0u) << usageError(flags);
}

TEST(CliTls, CertificateAndKeyGoTogether) {
  cli::BrokerFlags flags;
  flags.url = "amqps://mq.example/";
  flags.tlsCert = writeFile("logship_cert2.pem", "cert");
  EXPECT_EQ(usageError(flags), "--tls-cert needs --tls-key (give both or neither)");
  flags.tlsKey = flags.tlsCert;
  flags.tlsCert.clear();
  EXPECT_EQ(usageError(flags), "--tls-key needs --tls-cert (give both or neither)");
}

TEST(CliTls, UnreadableFilesNameTheFlagAndTheFile) {
  cli::BrokerFlags flags;
  flags.url = "amqps://mq.example/";
  flags.tlsCa = "/nonexistent/ca.pem";
  EXPECT_EQ(usageError(flags), "--tls-ca: cannot read '/nonexistent/ca.pem': No such file or directory");
  flags.tlsCa = ::testing::TempDir();  // a directory
  EXPECT_NE(usageError(flags).find("Is a directory"), std::string::npos) << usageError(flags);
  flags.tlsCa = writeFile("logship_empty.pem", "");
  EXPECT_EQ(usageError(flags), "--tls-ca: '" + flags.tlsCa + "' is empty");
  flags.tlsCa.clear();
  flags.tlsCert = writeFile("logship_cert3.pem", "cert");
  flags.tlsKey = "/nonexistent/key.pem";
  EXPECT_EQ(usageError(flags), "--tls-key: cannot read '/nonexistent/key.pem': No such file or directory");
}

TEST(CliTls, RequireTlsRefusesUnencryptedUrls) {
  cli::BrokerFlags flags;
  flags.requireTls = true;
  EXPECT_EQ(usageError(flags), "--require-tls refuses the unencrypted amqp:// broker URL; use amqps://");
  flags.url = "redis://:pw@cache.example";
  const std::string redis = usageError(flags);
  EXPECT_EQ(redis.rfind("--require-tls refuses the unencrypted redis:// broker URL", 0), 0u) << redis;
  EXPECT_EQ(redis.find("pw@"), std::string::npos) << redis;
  flags.url = "amqps://mq.example/";
  EXPECT_EQ(usageError(flags), "");
}

// ---- the three programs' flags (apps/programs.cpp): one style of message, sizes with suffixes ----

namespace {

// The CLI11 message for parsing `args` with the program's flags, or "" when they parse.
template <typename Settings, typename Define>
std::string parseError(Define define, std::vector<std::string> args, Settings& s) {
  CLI::App app;
  define(app, s);
  cli::addConfigFlags(app);
  args.insert(args.begin(), app.get_name());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    cli::configure(app, static_cast<int>(argv.size()), argv.data(), {});
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// What `program --help` (through cli::run, as the programs do) prints on stdout.
template <typename Settings, typename Define>
std::string helpOf(Define define, std::vector<std::string> args) {
  CLI::App app;
  Settings s;
  define(app, s);
  const auto defaultLogger = spdlog::default_logger();  // run() installs the program's
  spdlog::drop(app.get_name());
  args.insert(args.begin(), app.get_name());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  const int rc = cli::run(app, static_cast<int>(argv.size()), argv.data(), [](const cli::Configuration&) { return 1; });
  const std::string out = ::testing::internal::GetCapturedStdout();
  spdlog::drop(app.get_name());
  spdlog::set_default_logger(defaultLogger);
  EXPECT_EQ(rc, 0);
  return out;
}

}  // namespace

TEST(ProgramFlags, MaxMessageBytesTakesSizeSuffixesLikeTheOtherSizeFlags) {
  apps::ProducerSettings p;
  EXPECT_EQ(parseError(apps::defineProducer, {"--max-message-bytes", "1K", "x"}, p), "");
  EXPECT_EQ(p.ship.maxMessageBytes, 1024u);
  apps::AggregatorSettings a;
  EXPECT_EQ(parseError(apps::defineAggregator, {"--max-message-bytes", "2M"}, a), "");
  EXPECT_EQ(a.collector.maxMessageBytes, size_t{2} << 20);
  EXPECT_EQ(parseError(apps::defineAggregator, {"--max-message-bytes", "1G"}, a),
            "--max-message-bytes: '1G' is too large: at most 512 MiB");
}

TEST(ProgramFlags, RangeErrorsHaveOneStyleForNumbersAndSizes) {
  apps::AggregatorSettings a;
  EXPECT_EQ(parseError(apps::defineAggregator, {"--prefetch", "0"}, a), "--prefetch: '0' is too small: at least 1");
  EXPECT_EQ(parseError(apps::defineAggregator, {"--prefetch", "70000"}, a),
            "--prefetch: '70000' is too large: at most 65535");
  EXPECT_EQ(parseError(apps::defineAggregator, {"--max-deliveries", "2.5"}, a),
            "--max-deliveries: '2.5' is not a whole number");
  EXPECT_EQ(parseError(apps::defineAggregator, {"--reconnect-seconds", "40000000"}, a),
            "--reconnect-seconds: '40000000' is too large: at most 31536000");
  EXPECT_EQ(parseError(apps::defineAggregator, {"--rotate-bytes", "10"}, a),
            "--rotate-bytes: '10' is too small: at least 1 KiB");
  apps::ProducerSettings p;
  EXPECT_EQ(parseError(apps::defineProducer, {"--retry-seconds", "soon", "x"}, p),
            "--retry-seconds: 'soon' is not a number");
  EXPECT_EQ(parseError(apps::defineProducer, {"--batch-bytes", "0", "x"}, p),
            "--batch-bytes: '0' is too small: at least 1 byte");
}

TEST(ProgramFlags, HelpShowsWholeNumbersAsIntegers) {
  const std::string help = helpOf<apps::AggregatorSettings>(apps::defineAggregator, {"--help"});
  EXPECT_EQ(help.find("e+0"), std::string::npos) << help;
  EXPECT_NE(help.find("=31536000"), std::string::npos) << help;  // --reconnect-seconds' default: a year
}

TEST(ProgramFlags, EachLogctlSubcommandShowsItsOwnExamples) {
  const std::map<std::string, std::string> example = {{"setup", "logctl setup "},
                                                      {"status", "logctl status "},
                                                      {"recover", "logctl recover "},
                                                      {"tail", "logctl tail "},
                                                      {"search", "logctl search "}};
  for (const auto& [sub, own] : example) {
    const std::string help = helpOf<apps::LogctlSettings>(apps::defineLogctl, {sub, "--help"});
    EXPECT_NE(help.find(own), std::string::npos) << sub << ":\n" << help;
    for (const auto& [other, theirs] : example) {
      if (other != sub) {
        EXPECT_EQ(help.find(theirs), std::string::npos) << sub << " shows " << other << ":\n" << help;
      }
    }
  }
}

TEST(CliOptions, SentinelListPasswordsAndMaster) {
  cli::BrokerFlags flags;
  ::setenv("LOGSHIP_PASSWORD", "datapw", 1);
  ::unsetenv("LOGSHIP_SENTINEL_PASSWORD");
  flags.url = "redis-sentinel://:s1@127.0.0.1:6474/logship/2,redis-sentinel://:s1@127.0.0.1:6475/logship/2";
  BrokerOptions o = cli::resolveBroker(flags, "t");
  ASSERT_EQ(o.urls.size(), 2u);
  EXPECT_EQ(o.url.scheme, BrokerUrl::Scheme::RedisSentinel);
  EXPECT_EQ(o.urls[1].port, 6475);
  EXPECT_EQ(o.urls[1].password, "datapw");  // the data nodes' password, as for redis://
  EXPECT_EQ(o.urls[1].sentinelPassword, "s1");
  ::setenv("LOGSHIP_SENTINEL_PASSWORD", "fromenv", 1);
  o = cli::resolveBroker(flags, "t");
  EXPECT_EQ(o.urls[0].sentinelPassword, "fromenv");
  EXPECT_EQ(o.urls[0].password, "datapw");
  ::unsetenv("LOGSHIP_SENTINEL_PASSWORD");
  ::unsetenv("LOGSHIP_PASSWORD");
  // One list, one master and database.
  flags.url = "redis-sentinel://127.0.0.1:6474/logship,redis-sentinel://127.0.0.1:6475/other";
  EXPECT_THROW(cli::resolveBroker(flags, "t"), UsageError);
  flags.url = "redis-sentinel://127.0.0.1:6474/logship,redis://127.0.0.1:6475";
  EXPECT_THROW(cli::resolveBroker(flags, "t"), UsageError);
}

TEST(CliOptions, WaitReplicasNeedsRedis) {
  cli::BrokerFlags flags;
  flags.url = "amqp://guest:guest@h/";
  BrokerOptions o = cli::resolveBroker(flags, "t");
  EXPECT_THROW(applyWaitReplicas(o, 1, std::chrono::milliseconds(1000)), UsageError);
  EXPECT_NO_THROW(applyWaitReplicas(o, 0, std::chrono::milliseconds(1000)));
  flags.url = "redis-sentinel://127.0.0.1:6474/logship";
  o = cli::resolveBroker(flags, "t");
  applyWaitReplicas(o, 2, std::chrono::milliseconds(1500));
  EXPECT_EQ(o.waitReplicas, 2);
  EXPECT_EQ(o.waitTimeout, std::chrono::milliseconds(1500));
  EXPECT_THROW(applyWaitReplicas(o, 1, std::chrono::milliseconds(0)), UsageError);
}
