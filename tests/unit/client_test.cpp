// The client library through its public API only (include/logship/), without a broker: options
// refused at construction, and what log(), flush(), close() and stats() do while the broker cannot
// be reached (127.0.0.1 port 1: every connection is refused at once). Records actually arriving are
// checked against the real brokers by tests/e2e/test_client.py.
#include <logship/client.hpp>
#include <logship/spdlog_sink.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace {

constexpr const char* kNowhere = "amqp://guest:guest@127.0.0.1:1/";

logship::ClientOptions nowhere(size_t queueRecords = 100) {
  logship::ClientOptions o;
  o.broker = kNowhere;
  o.queueRecords = queueRecords;
  o.flushTimeout = std::chrono::milliseconds(0);
  return o;
}

// The ClientError message the options give, or "" if a client is made.
std::string refusal(const logship::ClientOptions& o) {
  try {
    logship::Client c(o);
    return "";
  } catch (const logship::ClientError& e) {
    return e.what();
  }
}

std::string scratchDir(const std::string& name) {
  const char* base = std::getenv("LOGSHIP_TEST_TMP");
  std::filesystem::path dir =
      std::filesystem::path(base != nullptr ? base : "/tmp") / ("client_test-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A TCP listener on 127.0.0.1 that takes connections and closes them unanswered: a broker that
// fails every handshake, at the moment the test chooses.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/"; }
  // Waits (up to a minute) for the next connection and closes it: false if none came.
  bool acceptAndClose() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 60'000) != 1) return false;
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return false;
    ::close(c);
    return true;
  }

 private:
  int fd_;
  uint16_t port_ = 0;
};

}  // namespace

TEST(ClientOptions, BadOptionsAreRefusedAtConstructionNamingTheOption) {
  auto o = nowhere();
  o.broker = "http://example.com/";
  EXPECT_NE(refusal(o).find("ClientOptions::broker: "), std::string::npos) << refusal(o);

  o = nowhere();
  o.broker = "amqp://guest:secret99@127.0.0.1:1/,redis://127.0.0.1:1";
  const std::string mixed = refusal(o);
  EXPECT_NE(mixed.find("same scheme"), std::string::npos) << mixed;
  EXPECT_EQ(mixed.find("secret99"), std::string::npos) << "a password in an error message: " << mixed;

  o = nowhere();
  o.queue = "amq.mine";
  EXPECT_NE(refusal(o).find("ClientOptions::queue: "), std::string::npos) << refusal(o);

  o = nowhere();
  o.passwordFile = "/nonexistent/password";
  EXPECT_NE(refusal(o).find("ClientOptions::passwordFile: "), std::string::npos) << refusal(o);

  o = nowhere();
  o.tlsCa = "/etc/hostname";
  EXPECT_NE(refusal(o).find("ClientOptions::tlsCa needs an amqps:// broker URL"), std::string::npos) << refusal(o);

  o = nowhere();
  o.requireTls = true;
  EXPECT_NE(refusal(o).find("ClientOptions::requireTls refuses"), std::string::npos) << refusal(o);

  o = nowhere();
  o.fields = {{"region", "eu"}, {"bad key", "x"}};
  EXPECT_NE(refusal(o).find("ClientOptions::fields: key 'bad key'"), std::string::npos) << refusal(o);

  // The metadata must fit a broker message's headers.
  o = nowhere();
  o.service = std::string(256, 's');
  EXPECT_EQ(refusal(o), "ClientOptions::service: 256 bytes, at most 255");
  o = nowhere();
  o.host = std::string(300, 'h');
  EXPECT_EQ(refusal(o), "ClientOptions::host: 300 bytes, at most 255");
  o = nowhere();
  o.fields = {{std::string(129, 'k'), "x"}};
  EXPECT_NE(refusal(o).find("longer than 128 bytes"), std::string::npos) << refusal(o);
  o = nowhere();
  o.fields = {{"a", std::string(40000, 'x')}, {"b", std::string(40000, 'x')}};
  EXPECT_EQ(refusal(o), "ClientOptions::fields: 80002 bytes of keys and values, at most 65536");
  o = nowhere();
  o.service = std::string(255, 's');
  o.fields = {{"a", std::string(60000, 'x')}};
  EXPECT_EQ(refusal(o), "") << "at the limits";

  o = nowhere();
  o.queueRecords = 0;
  EXPECT_NE(refusal(o).find("ClientOptions::queueRecords"), std::string::npos);

  o = nowhere();
  o.spoolDir = scratchDir("small-spool");
  o.spoolMaxBytes = 1000;
  EXPECT_NE(refusal(o).find("ClientOptions::spoolMaxBytes"), std::string::npos);

  EXPECT_EQ(refusal(nowhere()), "") << "an unreachable broker is not an error at construction";
}

TEST(ClientOptions, ASpoolDirectoryServesOneClientAtATime) {
  auto o = nowhere();
  o.spoolDir = scratchDir("locked");
  logship::Client first(o);
  const std::string second = refusal(o);
  EXPECT_NE(second.find("ClientOptions::spoolDir: "), std::string::npos) << second;
}

TEST(Client, WithTheBrokerDownLogNeverBlocksAndCountsEveryDropExactly) {
  logship::Client client(nowhere(5));
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += client.log(logship::Level::Info, "record " + std::to_string(i)) ? 1 : 0;
  // Not connected, the background thread takes nothing: the queue holds exactly its 5 records.
  EXPECT_EQ(accepted, 5);
  logship::ClientStats s = client.stats();
  EXPECT_EQ(s.accepted, 5u);
  EXPECT_EQ(s.dropped, 95u);
  EXPECT_EQ(s.pending, 5u);
  EXPECT_EQ(s.confirmed, 0u);
  EXPECT_FALSE(s.connected);
  // The background thread keeps trying; its error says which broker, without the password.
  for (int i = 0; i < 3000 && client.stats().lastError.empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(client.stats().lastError.find("amqp://guest:***@127.0.0.1:1/"), std::string::npos)
      << client.stats().lastError;
  EXPECT_FALSE(client.flush(std::chrono::milliseconds(0)));

  client.close();  // flushTimeout 0: gives up at once, without a spool the 5 are lost
  s = client.stats();
  EXPECT_EQ(s.failed, 5u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_FALSE(client.log(logship::Level::Info, "after close"));
  EXPECT_EQ(client.stats().dropped, 96u);
  client.close();  // idempotent
}

TEST(Client, ABlockedLogReturnsFalseWhenTheClientCloses) {
  auto o = nowhere(3);
  o.overflow = logship::OverflowPolicy::Block;
  logship::Client client(o);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(client.log(logship::Level::Warn, "fits"));
  bool fourth = true;
  std::thread caller([&] { fourth = client.log(logship::Level::Warn, "waits for room"); });
  EXPECT_EQ(client.stats().accepted, 3u);  // it waits (or has not started): it cannot be in
  client.close();
  caller.join();
  EXPECT_FALSE(fourth);
  const logship::ClientStats s = client.stats();
  EXPECT_EQ(s.accepted, 3u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.failed, 3u);
}

TEST(Client, OverLongMessagesAreDroppedAndAMovedFromClientLogsNothing) {
  auto o = nowhere();
  o.maxMessageBytes = 10;
  logship::Client client(o);
  EXPECT_TRUE(client.log(logship::Level::Info, "0123456789"));
  EXPECT_FALSE(client.log(logship::Level::Info, "0123456789+"));
  logship::Client moved(std::move(client));
  EXPECT_FALSE(client.log(logship::Level::Info, "x"));  // NOLINT(bugprone-use-after-move): the point
  EXPECT_EQ(moved.stats().accepted, 1u);
  EXPECT_EQ(moved.stats().dropped, 1u);
}

TEST(Client, WithASpoolEveryRecordIsKeptForTheNextClient) {
  auto o = nowhere(4);
  o.spoolDir = scratchDir("kept");
  o.overflow = logship::OverflowPolicy::Block;  // the background thread empties the queue into the spool
  {
    logship::Client client(o);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(client.log(logship::Level::Error, "kept " + std::to_string(i), {{"n", std::to_string(i)}}));
    client.close();
    const logship::ClientStats s = client.stats();
    EXPECT_EQ(s.accepted, 50u);
    EXPECT_EQ(s.failed, 0u);
    EXPECT_EQ(s.pending, 50u) << "what is not confirmed stays in the spool";
  }
  logship::Client next(o);
  EXPECT_EQ(next.stats().recovered, 50u);
  EXPECT_EQ(next.stats().pending, 50u);
  next.close();
  EXPECT_EQ(next.stats().pending, 50u);
  EXPECT_EQ(next.stats().failed, 0u);
}

// The sender thread's first warning ("cannot connect ...", through spdlog's default logger) comes
// after the constructor returned: the logger the constructor created is used from another thread.
// The ThreadSanitizer lane checks that the creation is ordered before that use (issue 19). Its own
// process (ctest runs each test alone): spdlog is untouched until the Client is made.
TEST(Client, TheSenderThreadsFirstWarningUsesTheLoggerTheConstructorMade) {
  SilentListener broker;
  auto o = nowhere();
  o.broker = broker.url();
  o.spoolDir = scratchDir("first-warning");
  logship::Client client(o);
  // The sender waits for the broker's answer until the first connection is closed unanswered; it
  // warns before it connects again, so the second connection means the warning was logged.
  ASSERT_TRUE(broker.acceptAndClose());
  ASSERT_TRUE(broker.acceptAndClose());
  const logship::ClientStats s = client.stats();
  EXPECT_FALSE(s.connected);
  EXPECT_NE(s.lastError, "");
  client.close();
}

TEST(SpdlogSink, MapsSpdlogLevels) {
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::trace), logship::Level::Trace);
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::debug), logship::Level::Debug);
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::info), logship::Level::Info);
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::warn), logship::Level::Warn);
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::err), logship::Level::Error);
  EXPECT_EQ(logship::levelFromSpdlog(spdlog::level::critical), logship::Level::Fatal);
}

TEST(SpdlogSink, EveryMessageTheLoggerPassesBecomesOneRecord) {
  auto client = std::make_shared<logship::Client>(nowhere());
  auto logger = std::make_shared<spdlog::logger>(
      "unit", std::make_shared<logship::spdlog_sink_st>(
                  client, logship::SpdlogSinkOptions{.flushTimeout = std::chrono::milliseconds(100)}));
  logger->set_level(spdlog::level::info);
  logger->debug("below the logger's level");
  logger->info("one");
  SPDLOG_LOGGER_WARN(logger, "two {}", 2);
  logger->critical("three");
  EXPECT_EQ(client->stats().accepted, 3u);
  logger->flush();  // waits at most the sink's flush timeout for the unreachable broker, then returns
  client->close();
  EXPECT_EQ(client->stats().failed, 3u);
}
