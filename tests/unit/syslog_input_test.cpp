// The syslog receivers (producer/input/syslog_input.hpp) on loopback sockets, with the shipping
// pipeline publishing into a list (the broker side is tested against real brokers in the e2e tests):
// datagrams and TCP frames become records, too-long ones are refused and counted, the TCP connection
// cap holds further connections back, an incomplete frame is shipped when its connection closes or
// the producer stops, and binding errors are one clear message.
#include "producer/input/syslog_input.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/message.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

using namespace std::chrono_literals;

// A publisher that keeps what it is given and confirms it at once.
struct Published {
  std::mutex mu;
  std::vector<Message> messages;
};

class ListPublisher : public Publisher {
 public:
  explicit ListPublisher(Published& p) : p_(p) {}
  uint64_t publish(const Message& m) override {
    std::lock_guard lock(p_.mu);
    p_.messages.push_back(m);
    return ++sent_;
  }
  size_t awaitConfirms(size_t, Clock::time_point, std::vector<ConfirmRange>& out) override {
    if (confirmed_ < sent_) out.push_back({confirmed_ + 1, sent_, true, ""});
    confirmed_ = sent_;
    return 0;
  }
  size_t unconfirmed() const override { return sent_ - confirmed_; }

 private:
  Published& p_;
  uint64_t sent_ = 0;
  uint64_t confirmed_ = 0;
};

struct Pipeline {
  Published published;
  std::unique_ptr<Shipper> shipper;
  Pipeline() {
    ShipperOptions o;
    o.batchRecords = 1;
    Record tmpl;
    tmpl.host = "producer-host";
    shipper = std::make_unique<Shipper>(
        [this](const std::atomic<bool>*) { return std::make_unique<ListPublisher>(published); }, tmpl, o);
  }
  std::vector<Record> finish() {
    shipper->finish(false);
    std::vector<Record> records;
    for (const auto& m : published.messages) {
      std::string error;
      EXPECT_TRUE(decodeRecords(m.body, m.headers, 0, records, error)) << error;
    }
    return records;
  }
};

uint16_t portOf(const Input& input) {
  const std::string_view name = input.name();
  return static_cast<uint16_t>(std::stoi(std::string(name.substr(name.rfind(':') + 1))));
}

// Lets `input` read until `done` holds (at most 10 s).
template <class Done>
bool pump(Input& input, Shipper& shipper, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::vector<pollfd> fds;
    input.addPollFds(fds);
    ::poll(fds.data(), fds.size(), 20);
    input.read(shipper);
  }
  return true;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

class Client {
 public:
  explicit Client(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    const sockaddr_in a = loopback(port);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  }
  ~Client() { close(); }
  void send(std::string_view s) { EXPECT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::vector<std::string> messages(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.message);
  return out;
}

std::string field(const Record& r, std::string_view key) {
  for (const auto& f : r.fields) {
    if (f.key == key) return f.value;
  }
  return "<none>";
}

TEST(SyslogUdpInput, DatagramsBecomeRecordsAndTooLongOnesAreRefused) {
  Pipeline p;
  SyslogMetrics metrics;
  SyslogUdpInput input("127.0.0.1:0", 100, &metrics);
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = loopback(portOf(input));
  for (std::string_view d : {std::string_view("<11>1 - web-1 api 7 - - first"), std::string_view(""),
                             std::string_view("<13>Nov 27 16:53:04 host2 app[9]: second\n"),
                             std::string_view("no header at all")}) {
    ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  }
  const std::string big(150, 'x');
  ASSERT_EQ(::sendto(fd, big.data(), big.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 150);
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages + input.counts().refused == 4; }));
  EXPECT_EQ(input.counts().refused, 1u);
  EXPECT_EQ(input.counts().unparsed, 1u);
  const std::string_view last = "<13>1 - - - - - - in the buffer at the stop";
  ASSERT_EQ(::sendto(fd, last.data(), last.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(last.size()));
  ::close(fd);
  input.endOfInput(*p.shipper);  // reads what the socket holds
  EXPECT_EQ(input.counts().messages, 4u);
  const auto records = p.finish();
  ASSERT_EQ(messages(records),
            (std::vector<std::string>{"first", "second", "no header at all", "in the buffer at the stop"}));
  EXPECT_EQ(records[0].host, "web-1");
  EXPECT_EQ(records[0].service, "api");
  EXPECT_EQ(records[0].level, Level::Error);
  EXPECT_EQ(field(records[0], "procid"), "7");
  EXPECT_EQ(records[1].host, "host2");
  EXPECT_EQ(field(records[1], "pid"), "9");
  EXPECT_EQ(records[2].host, "127.0.0.1");  // the sender's address
  EXPECT_EQ(field(records[2], "parse_error"), "no <PRI> at the start: not a syslog message");
  EXPECT_EQ(p.shipper->report().refused, 1u);
  // The metrics count alike.
  EXPECT_EQ(metrics.messages.value(), 4u);
  EXPECT_EQ(metrics.unparsed.value(), 1u);
  EXPECT_EQ(metrics.refused.value(), 1u);
  EXPECT_EQ(metrics.lost.value(), 0u);
}

TEST(SyslogTcpInput, FramesFromSeveralConnectionsAndTheConnectionCap) {
  Pipeline p;
  SyslogMetrics metrics;
  SyslogTcpInput input("127.0.0.1:0", 100, 2, &metrics);
  const uint16_t port = portOf(input);
  Client a(port), b(port);
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.openConnections() == 2; }));
  EXPECT_EQ(metrics.open.value(), 2.0);
  Client c(port);  // over the cap: waits in the backlog
  c.send("<13>1 - c app - - - from c\n");
  a.send("25 <13>1 - a app - - - he");  // 23 of its 25 bytes
  b.send("<14>1 - b app - - - from b\n200 " + std::string(200, 'z') + "<13>after\n");
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages == 2 && input.counts().refused == 1; }));
  EXPECT_EQ(input.openConnections(), 2u);
  a.send("llo\n");  // completes a's octet-counted frame; the LF after it is an empty frame
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages == 3; }));
  a.close();  // frees a place for c
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages == 4; }));
  EXPECT_EQ(input.counts().connections, 3u);
  b.send("<13>1 - b app - - - no LF yet");
  b.close();  // the last frame without its LF is shipped at the close
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages == 5; }));
  c.send("42 <13>1 - c app - - - cut");  // still open, not read yet, when the producer stops
  EXPECT_EQ(metrics.open.value(), 1.0);     // c only
  input.endOfInput(*p.shipper);             // reads what is there, ships the incomplete frame
  EXPECT_EQ(input.counts().messages, 6u);
  EXPECT_EQ(metrics.messages.value(), 6u);
  EXPECT_EQ(metrics.unparsed.value(), 1u);  // "cut"
  EXPECT_EQ(metrics.refused.value(), 1u);
  EXPECT_EQ(metrics.connections.value(), 3u);
  EXPECT_EQ(metrics.open.value(), 0.0);
  const auto records = p.finish();
  EXPECT_EQ(messages(records), (std::vector<std::string>{"from b", "after", "hello", "from c", "no LF yet", "cut"}));
  for (const auto& r : records) {
    if (r.message == "cut") {
      EXPECT_EQ(field(r, "parse_error"), "the producer stopped inside an octet-counted frame: its end is missing");
      EXPECT_EQ(r.service, "app");
    } else {
      EXPECT_EQ(field(r, "parse_error"), "<none>") << r.message;
    }
  }
  EXPECT_EQ(p.shipper->report().refused, 1u);
}

TEST(SyslogUdpInput, Ipv6) {
  {
    const int probe = ::socket(AF_INET6, SOCK_DGRAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    const bool usable = probe >= 0 && ::bind(probe, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    if (probe >= 0) ::close(probe);
    if (!usable) GTEST_SKIP() << "no IPv6 loopback here";
  }
  Pipeline p;
  SyslogUdpInput input("[::1]:0", 100);
  ASSERT_TRUE(std::string(input.name()).starts_with("syslog udp [::1]:")) << input.name();
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = in6addr_loopback;
  to.sin6_port = htons(portOf(input));
  const std::string_view d = "<13>1 - - app - - - over v6";
  ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(d.size()));
  ::close(fd);
  ASSERT_TRUE(pump(input, *p.shipper, [&] { return input.counts().messages == 1; }));
  const auto records = p.finish();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].message, "over v6");
  EXPECT_EQ(records[0].host, "::1");  // the sender's address, without HOSTNAME
}

TEST(SyslogInput, BindingErrorsNameTheFlagAndTheAddress) {
  SyslogTcpInput tcp("127.0.0.1:0", 100, 1);
  const std::string taken = "127.0.0.1:" + std::to_string(portOf(tcp));
  try {
    SyslogTcpInput again(taken, 100, 1);
    FAIL() << "bound twice";
  } catch (const UsageError&) {
    FAIL() << "a port in use is not a usage error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--syslog-tcp " + taken + ": cannot bind: Address already in use (another program listens there)");
  }
  SyslogUdpInput udp("127.0.0.1:0", 100);
  const std::string udpTaken = "127.0.0.1:" + std::to_string(portOf(udp));
  EXPECT_THROW(SyslogUdpInput(udpTaken, 100), Error);
  try {
    SyslogUdpInput bad("localhost", 100);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("--syslog-udp 'localhost': no port")) << e.what();
  }
  EXPECT_THROW(SyslogUdpInput("127.0.0.1:70000", 100), UsageError);
  EXPECT_THROW(SyslogTcpInput("[::1:514", 100, 1), UsageError);
  EXPECT_THROW(SyslogTcpInput("no-such-host.invalid:514", 100, 1), UsageError);
}

}  // namespace
}  // namespace logship
