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
