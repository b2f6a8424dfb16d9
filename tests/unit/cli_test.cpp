#include "cli/common.hpp"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "core/error.hpp"

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
