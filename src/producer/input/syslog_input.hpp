#pragma once
// The syslog receivers (docs/ARCHITECTURE.md, "Data flow"; docs/RELIABILITY.md, "Syslog and network
// inputs"): inputs that never end (until a stop signal), each one socket bound at construction.
//
// UDP (--syslog-udp): one datagram = one message. Lossy by nature: what the kernel's receive buffer
// cannot hold while the producer is busy is dropped before it is read. The socket asks for an 8 MiB
// buffer, and the kernel's drop count (SO_RXQ_OVFL) is read with every datagram and reported.
//
// TCP (--syslog-tcp): a listening socket and up to maxConnections connections, all waited on through
// one epoll descriptor (the loop polls that one descriptor; read() asks epoll which are ready, so
// many quiet connections cost nothing). Each connection has its own framing (SyslogFramer) and
// keepalive probes find peers that vanished. A connection that sent nothing for the idle timeout
// is closed, and at the cap a new connection is taken in and the longest-idle one closed to make
// room, so silent connections cannot lock senders out. What a closed connection had sent is read
// first (bounded, as any read) and shipped, an incomplete last frame included. A frame over the
// size limit is refused, reported and skipped; the connection stays open.
#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/record.hpp"
#include "metrics/metric.hpp"
#include "producer/input/input.hpp"
#include "producer/input/listen_socket.hpp"
#include "producer/input/syslog_framer.hpp"
#include "producer/input/syslog_parse.hpp"

namespace logship {

struct SyslogOptions {
  std::vector<std::string> udp;       // --syslog-udp ADDR...
  std::vector<std::string> tcp;       // --syslog-tcp ADDR...
  size_t maxConnections = 256;        // --syslog-max-connections, per TCP address
  int64_t idleTimeoutSeconds = 3600;  // --syslog-idle-timeout
  size_t maxMessageBytes = 1024 * 1024;
};

// The syslog inputs' metrics (logship_producer_syslog_*, docs/OPERATIONS.md), shared by every
// receiver of the producer; updated by the input thread, read by the metrics endpoint.
struct SyslogMetrics {
  metrics::Counter messages;     // datagrams or frames made into records
  metrics::Counter unparsed;     // of them, without a syslog header (kept raw with parse_error) or cut short
  metrics::Counter refused;      // over the size limit
  metrics::Counter lost;         // UDP: dropped by the kernel before they were read
  metrics::Counter connections;  // TCP: accepted
  metrics::Gauge open;           // TCP: connections open now
  metrics::Counter timedOut;     // TCP: closed after the idle timeout
  metrics::Counter evicted;      // TCP: the longest idle, closed at the cap to make room for a new one
};

// What a receiver counted (logged at the end), and the shared metrics (if any) counted alike.
struct SyslogCounts {
  uint64_t messages = 0;     // datagrams or frames made into records
  uint64_t unparsed = 0;     // of them, with parse_error
  uint64_t refused = 0;      // over the size limit
  uint64_t lost = 0;         // UDP: dropped by the kernel before they were read (its receive buffer was full)
  uint64_t connections = 0;  // TCP: accepted
  uint64_t timedOut = 0;     // TCP: closed after the idle timeout
  uint64_t evicted = 0;      // TCP: closed at the cap to make room
  SyslogMetrics* shared = nullptr;

  void message(bool parsed) {
    ++messages;
    if (!parsed) ++unparsed;
    if (shared == nullptr) return;
    shared->messages.inc();
    if (!parsed) shared->unparsed.inc();
  }
  void refusedOne() {
    ++refused;
    if (shared != nullptr) shared->refused.inc();
  }
  void lostSome(uint64_t n) {
    lost += n;
    if (shared != nullptr) shared->lost.inc(n);
  }
  void opened() {
    ++connections;
    if (shared == nullptr) return;
    shared->connections.inc();
    shared->open.add(1);
  }
  void closed(size_t n = 1) {
    if (shared != nullptr) shared->open.add(-static_cast<double>(n));
  }
  void closedIdle(bool atCap) {
    ++(atCap ? evicted : timedOut);
    if (shared != nullptr) (atCap ? shared->evicted : shared->timedOut).inc();
  }
};

// At most one log line per interval for a repeating problem; the others are counted and said with the next.
class LogThrottle {
 public:
  // True when a line may be written now; `suppressed` is how many were held back since the last one.
  bool ready(uint64_t& suppressed);

 private:
  std::chrono::steady_clock::time_point next_{};
  uint64_t held_ = 0;
};

class SyslogUdpInput : public Input {
 public:
  // Binds `address` (throws UsageError / Error, see bindSocket) and logs where it listens.
  SyslogUdpInput(const std::string& address, size_t maxMessageBytes, SyslogMetrics* metrics = nullptr);
  std::string_view name() const override { return name_; }
  void addPollFds(std::vector<pollfd>& fds) override { fds.push_back({socket_.get(), POLLIN, 0}); }
  bool read(Shipper& shipper) override;
  // Reads what the socket still holds, then logs the counts.
  void endOfInput(Shipper& shipper) override;
  const SyslogCounts& counts() const { return counts_; }

 private:
  Socket socket_;
  std::string name_;
  size_t maxMessageBytes_;
  std::vector<char> buf_;
  SyslogParser parser_;
  Record record_;
  uint32_t kernelDrops_ = 0;  // the last SO_RXQ_OVFL count seen
  SyslogCounts counts_;
  LogThrottle refusedLog_, lostLog_;
};

class SyslogTcpInput : public Input {
 public:
  SyslogTcpInput(const std::string& address, size_t maxMessageBytes, size_t maxConnections,
                 std::chrono::milliseconds idleTimeout, SyslogMetrics* metrics = nullptr);
  ~SyslogTcpInput() override;
  std::string_view name() const override { return name_; }
  void addPollFds(std::vector<pollfd>& fds) override { fds.push_back({epoll_.get(), POLLIN, 0}); }
  bool read(Shipper& shipper) override;
  std::chrono::milliseconds wakeIn() const override;
  // Reads what every connection still holds, ships what is left of an incomplete frame, closes them.
  void endOfInput(Shipper& shipper) override;
  const SyslogCounts& counts() const { return counts_; }
  size_t openConnections() const { return connections_.size(); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Connection {
    Socket socket;
    std::string peer;      // "10.0.0.7:51234", for messages
    std::string peerHost;  // "10.0.0.7", the host of records without HOSTNAME
    SyslogFramer framer;
    TimePoint lastActive;              // accepted, or data last read
    std::list<int>::iterator idlePos;  // in byIdle_
    Connection(Socket s, std::string p, std::string h, size_t max)
        : socket(std::move(s)), peer(std::move(p)), peerHost(std::move(h)), framer(max) {}
  };
  void accept(Shipper& shipper);
  // Reads what is there (bounded) and ships its frames; false when the connection is finished.
  bool readConnection(Connection& c, Shipper& shipper);
  void shipFrame(Connection& c, std::string_view frame, Shipper& shipper, std::string_view cutReason = {});
  // Ships what the connection holds of a last frame; `why` ends "inside an octet-counted frame".
  void shipRest(Connection& c, Shipper& shipper, std::string_view why);
  // Closes connections idle for the idle timeout.
  void closeIdle(Shipper& shipper);
  // Reads and ships what the connection sent, then closes it (idle: at the cap, or timed out).
  void retire(int fd, bool atCap, Shipper& shipper);
  void close(int fd);
  void watchListener(bool on);

  Socket listener_;
  Socket epoll_;
  std::string name_;
  size_t maxMessageBytes_;
  size_t maxConnections_;
  std::chrono::milliseconds idleTimeout_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::list<int> byIdle_;                                  // the connections, the longest idle first
  bool listening_ = false;                                 // the listener is in the epoll set
  std::chrono::steady_clock::time_point acceptAgainAt_{};  // after EMFILE and the like
  SyslogParser parser_;
  Record record_;
  SyslogCounts counts_;
  LogThrottle refusedLog_, capLog_, acceptLog_;
};

// The inputs of --syslog-udp and --syslog-tcp, bound in the order given, counting in `metrics` (if
// not null; it must outlive them).
std::vector<std::unique_ptr<Input>> makeSyslogInputs(const SyslogOptions& options, SyslogMetrics* metrics = nullptr);

}  // namespace logship
