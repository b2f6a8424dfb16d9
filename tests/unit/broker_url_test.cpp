#include "core/broker_url.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/secret.hpp"

using namespace logship;

TEST(BrokerUrl, DefaultUrl) {
  const BrokerUrl u = parseBrokerUrl(kDefaultBrokerUrl);
  EXPECT_EQ(u.scheme, BrokerUrl::Scheme::Amqp);
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.user, "guest");
  EXPECT_EQ(u.password, "guest");
  EXPECT_EQ(u.vhost, "/");
}

TEST(BrokerUrl, DefaultsWhenPartsAreMissing) {
  const BrokerUrl u = parseBrokerUrl("amqp://mq.example");
  EXPECT_EQ(u.host, "mq.example");
  EXPECT_EQ(u.port, 5672);
  EXPECT_EQ(u.user, "guest");
  EXPECT_EQ(u.vhost, "/");
  EXPECT_FALSE(u.hasPassword);
  EXPECT_EQ(parseBrokerUrl("amqps://h").port, 5671);
}

TEST(BrokerUrl, VhostAndPercentDecoding) {
  EXPECT_EQ(parseBrokerUrl("amqp://h/prod").vhost, "prod");
  EXPECT_EQ(parseBrokerUrl("amqp://h/%2f").vhost, "/");
  EXPECT_EQ(parseBrokerUrl("amqp://h/%2Fa").vhost, "/a");
  const BrokerUrl u = parseBrokerUrl("amqp://us%40er:p%3Ass%2F@h:1234/v");
  EXPECT_EQ(u.user, "us@er");
  EXPECT_EQ(u.password, "p:ss/");
  EXPECT_EQ(u.port, 1234);
}

TEST(BrokerUrl, PasswordMayContainAt) {
  const BrokerUrl u = parseBrokerUrl("amqp://user:p@ss@host/");
  EXPECT_EQ(u.user, "user");
  EXPECT_EQ(u.password, "p@ss");
  EXPECT_EQ(u.host, "host");
}

TEST(BrokerUrl, Ipv6) {
  const BrokerUrl u = parseBrokerUrl("amqp://[::1]:5690/");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 5690);
  EXPECT_EQ(u.redacted(), "amqp://guest@[::1]:5690/");
}

TEST(BrokerUrl, Redis) {
  const BrokerUrl u = parseBrokerUrl("redis://:s3cret@127.0.0.1:6390/2");
  EXPECT_EQ(u.scheme, BrokerUrl::Scheme::Redis);
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.port, 6390);
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(u.redacted(), "redis://:***@127.0.0.1:6390/2");
  EXPECT_EQ(parseBrokerUrl("redis://localhost").port, 6379);
}

TEST(BrokerUrl, RedactedNeverShowsThePassword) {
  const BrokerUrl u = parseBrokerUrl("amqp://alice:TopSecret99@mq:5672/prod");
  EXPECT_EQ(u.redacted(), "amqp://alice:***@mq:5672/prod");
  EXPECT_EQ(u.redacted().find("TopSecret99"), std::string::npos);
}

TEST(BrokerUrl, RejectsMalformedUrls) {
  for (const char* bad :
       {"localhost:5672", "ftp://h", "amqp://", "amqp://:5672/", "amqp://h:0", "amqp://h:65536", "amqp://h:99999",
        "amqp://h:abc", "amqp://h:", "amqp://[::1", "amqp://h/a/b", "amqp://h/%zz", "amqp://h/%2",
        "amqp://h?heartbeat=5", "amqp://h st", "amqp://@h", "redis://h/x", "redis://h/-1", "amqp://[::1]x"}) {
    EXPECT_THROW(parseBrokerUrl(bad), UsageError) << bad;
  }
}

TEST(BrokerUrl, ErrorsDoNotEchoThePassword) {
  try {
    parseBrokerUrl("amqp://u:Sekr%zzit@h/");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).find("Sekr"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("password"), std::string::npos);
  }
}

TEST(BrokerUrl, ErrorsAreOneLineWhateverTheInput) {  // found by fuzz_broker_url
  for (const std::string& bad :
       {std::string("?red\n\0://k", 10), std::string("amqp://h:1\n2"), std::string("redis://h/\r")}) {
    try {
      parseBrokerUrl(bad);
      FAIL() << "accepted a malformed URL";
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()).find_first_of("\r\n"), std::string::npos) << e.what();
    }
  }
}

TEST(BrokerUrl, MisplacedPasswordsAreNeverEchoed) {
  for (const char* bad :
       {"amqp://admin:s3cretpw", "amqp://admin:s3cr/etpw@host/", "redis://:s3cretpw/x@h", "amqp://admin:s3cretpw/"}) {
    try {
      parseBrokerUrl(bad);
      FAIL() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()).find("s3cr"), std::string::npos) << e.what();
    }
  }
}

TEST(BrokerUrl, UserWithoutPasswordHasNoPassword) {
  const BrokerUrl u = parseBrokerUrl("amqp://alice@mq/");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "");
  EXPECT_FALSE(u.hasPassword);
}

TEST(BrokerUrl, RedisOverTlsIsRefusedClearly) {
  try {
    parseBrokerUrl("rediss://:s3cretpw@cache.example:6380/0");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rediss:// (Redis over TLS) is not supported"), std::string::npos) << what;
    EXPECT_NE(what.find("hiredis 0.14"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cretpw"), std::string::npos) << what;
  }
}

// Issue 15: error messages quote command lines and files; every URL's password in them is hidden.
TEST(RedactUrlPasswords, HidesThePasswordOfEveryUrlInAText) {
  EXPECT_EQ(redactUrlPasswords("The following arguments were not expected: redis://:SECRET@127.0.0.1:6481 --broker"),
            "The following arguments were not expected: redis://:***@127.0.0.1:6481 --broker");
  EXPECT_EQ(redactUrlPasswords("'amqp://u:p@ss:w@h/v','redis://a:b@c' amqp://guest@h amqp://h:5672"),
            "'amqp://u:***@h/v','redis://a:***@c' amqp://guest@h amqp://h:5672");
  EXPECT_EQ(redactUrlPasswords("--brokr=amqp://x:y@z,redis://:q@r"), "--brokr=amqp://x:***@z,redis://:***@r");
  EXPECT_EQ(redactUrlPasswords("no url here: a:b@c"), "no url here: a:b@c");
  EXPECT_EQ(redactUrlPasswords("://:@"), "://:@");
  EXPECT_TRUE(holdsUrlPassword("redis://:pw@h"));
  EXPECT_FALSE(holdsUrlPassword("redis://h:6379"));
  EXPECT_FALSE(holdsUrlPassword(""));
}

TEST(BrokerUrl, RedisSentinel) {
  const BrokerUrl u = parseBrokerUrl("redis-sentinel://:s3nt@127.0.0.1:26380/mymaster/3");
  EXPECT_EQ(u.scheme, BrokerUrl::Scheme::RedisSentinel);
  EXPECT_TRUE(u.isRedis());
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 26380);
  EXPECT_EQ(u.masterName, "mymaster");
  EXPECT_EQ(u.db, 3);
  // The URL's password is the sentinels'; the data nodes' comes separately (--password-file, ...).
  EXPECT_EQ(u.sentinelPassword, "s3nt");
  EXPECT_EQ(u.password, "");
  EXPECT_FALSE(u.hasPassword);
  EXPECT_EQ(u.redacted(), "redis-sentinel://:***@127.0.0.1:26380/mymaster/3");
}

TEST(BrokerUrl, RedisSentinelDefaults) {
  const BrokerUrl u = parseBrokerUrl("redis-sentinel://sentinel.example/logs%2Dmaster");
  EXPECT_EQ(u.port, 26379);
  EXPECT_EQ(u.db, 0);
  EXPECT_EQ(u.masterName, "logs-master");
  EXPECT_EQ(u.sentinelPassword, "");
  EXPECT_EQ(u.redacted(), "redis-sentinel://sentinel.example:26379/logs-master/0");
  EXPECT_EQ(parseBrokerUrl("redis-sentinel://[::1]:26379/m").host, "::1");
}

TEST(BrokerUrl, RedisSentinelErrors) {
  const auto message = [](const char* text) {
    try {
      parseBrokerUrl(text);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("redis-sentinel://127.0.0.1:26379").find("needs the master's name"), std::string::npos);
  EXPECT_NE(message("redis-sentinel://127.0.0.1:26379/").find("needs the master's name"), std::string::npos);
  EXPECT_NE(message("redis-sentinel://h/m/x").find("invalid Redis database"), std::string::npos);
  EXPECT_NE(message("redis-sentinel://h/m/1/2").find("invalid Redis database"), std::string::npos);
  EXPECT_NE(message("redis-sentinel://user:pw@h/m").find("takes no user name"), std::string::npos);
  const std::string bad = message("redis-sentinel://:topsecret@h:99999/m");
  EXPECT_NE(bad.find("invalid port"), std::string::npos);
  EXPECT_EQ(bad.find("topsecret"), std::string::npos);
  EXPECT_EQ(redactUrlPasswords("redis-sentinel://:topsecret@h/m"), "redis-sentinel://:***@h/m");
}
