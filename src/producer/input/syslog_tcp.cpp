#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/timestamp.hpp"
#include "core/units.hpp"
#include "producer/input/record_fields.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
constexpr int kReadsPerWakeUp = 4;  // per ready connection: 256 KiB, then the others get a turn
constexpr int kEventsPerWakeUp = 64;

void keepAlive(int fd) {
  // A peer that vanished (powered off, unplugged) is found after about 5 + 4 * 0.5 minutes.
  const int on = 1, idle = 300, interval = 30, count = 4;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace

SyslogTcpInput::SyslogTcpInput(const std::string& address, size_t maxMessageBytes, size_t maxConnections,
                               std::chrono::milliseconds idleTimeout, SyslogMetrics* metrics)
    : listener_(bindSocket(address, SOCK_STREAM, "--syslog-tcp")),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      maxMessageBytes_(maxMessageBytes),
      maxConnections_(maxConnections),
      idleTimeout_(idleTimeout) {
  counts_.shared = metrics;
  if (!epoll_) throw Error(fmt::format("--syslog-tcp {}: epoll_create1: {}", address, std::strerror(errno)));
  watchListener(true);
  const std::string bound = boundAddressText(listener_.get());
  name_ = "syslog tcp " + bound;
  spdlog::info("listening for syslog on tcp {} (at most {} connections, closed after {} idle)", bound, maxConnections_,
               formatDuration(std::chrono::duration_cast<std::chrono::seconds>(idleTimeout_)));
}

SyslogTcpInput::~SyslogTcpInput() { counts_.closed(connections_.size()); }

void SyslogTcpInput::watchListener(bool on) {
  if (on == listening_) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener_.get();
  if (::epoll_ctl(epoll_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener_.get(), &event) != 0) {
    throw Error(fmt::format("{}: epoll_ctl: {}", name_, std::strerror(errno)));
  }
  listening_ = on;
}

std::chrono::milliseconds SyslogTcpInput::wakeIn() const {
  const auto now = std::chrono::steady_clock::now();
  auto wake = std::chrono::milliseconds(1000);
  if (!listening_) wake = std::chrono::duration_cast<std::chrono::milliseconds>(acceptAgainAt_ - now);
  if (!byIdle_.empty()) {
    const TimePoint idleAt = connections_.at(byIdle_.front())->lastActive + idleTimeout_;
    wake = std::min(wake, std::chrono::ceil<std::chrono::milliseconds>(idleAt - now));
  }
  return std::max(std::chrono::milliseconds(0), wake);
}

bool SyslogTcpInput::read(Shipper& shipper) {
  if (!listening_ && std::chrono::steady_clock::now() >= acceptAgainAt_) watchListener(true);
  epoll_event events[kEventsPerWakeUp];
  const int n = ::epoll_wait(epoll_.get(), events, kEventsPerWakeUp, 0);
  if (n < 0) {
    if (errno == EINTR) return true;
    throw Error(fmt::format("{}: epoll_wait: {}", name_, std::strerror(errno)));
  }
  for (int i = 0; i < n && !shipper.failed(); ++i) {
    const int fd = events[i].data.fd;
    if (fd == listener_.get()) {
      accept(shipper);
      continue;
    }
    auto it = connections_.find(fd);
    if (it == connections_.end()) continue;
    if (!readConnection(*it->second, shipper)) close(fd);
  }
  if (!shipper.failed()) closeIdle(shipper);
  return true;
}

void SyslogTcpInput::accept(Shipper& shipper) {
  // At most a wake-up's worth at a time: the connections' data gets its turn during a flood.
  for (int accepted = 0; accepted < kEventsPerWakeUp; ++accepted) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const int fd =
        ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: try again in a second, meanwhile the backlog holds them.
      const int error = errno;
      watchListener(false);
      acceptAgainAt_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      uint64_t suppressed = 0;
      if (acceptLog_.ready(suppressed)) {
        spdlog::error("{}: cannot accept a connection: {} (trying again in a second)", name_, std::strerror(error));
      }
      return;
    }
    Socket s(fd);
    keepAlive(fd);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      throw Error(fmt::format("{}: epoll_ctl: {}", name_, std::strerror(errno)));
    }
    if (connections_.size() >= maxConnections_ && !byIdle_.empty()) retire(byIdle_.front(), true, shipper);
    auto c = std::make_unique<Connection>(std::move(s), socketAddressText(from, true), socketAddressText(from, false),
                                          maxMessageBytes_);
    spdlog::debug("{}: connection from {}", name_, c->peer);
    c->lastActive = std::chrono::steady_clock::now();
    c->idlePos = byIdle_.insert(byIdle_.end(), fd);
    connections_.emplace(fd, std::move(c));
    counts_.opened();
  }
}

void SyslogTcpInput::closeIdle(Shipper& shipper) {
  const TimePoint now = std::chrono::steady_clock::now();
  while (!byIdle_.empty() && now - connections_.at(byIdle_.front())->lastActive >= idleTimeout_) {
    retire(byIdle_.front(), false, shipper);
  }
}

void SyslogTcpInput::retire(int fd, bool atCap, Shipper& shipper) {
  Connection& c = *connections_.at(fd);
  const auto idle = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - c.lastActive);
  // What it sent before is shipped: the frames it holds, then what it holds of a last one.
  if (!shipper.failed() && readConnection(c, shipper)) {
    shipRest(c, shipper, "the producer closed the idle connection");
  }
  counts_.closedIdle(atCap);
  uint64_t suppressed = 0;
  if (!atCap) {
    spdlog::debug("{}: connection from {} closed after {}s idle (--syslog-idle-timeout)", name_, c.peer, idle.count());
  } else if (capLog_.ready(suppressed)) {
    spdlog::warn(
        "{}: {} connections open (--syslog-max-connections): the longest idle, from {} ({}s idle), closed to "
        "make room for a new one{}",
        name_, connections_.size(), c.peer, idle.count(),
        suppressed > 0 ? fmt::format("; {} more closed so before it", suppressed) : "");
  }
  close(fd);
}

bool SyslogTcpInput::readConnection(Connection& c, Shipper& shipper) {
  auto drain = [&] {
    std::string_view frame;
    SyslogFramer::TooLongFrame tooLong;
    for (;;) {
      switch (c.framer.next(frame, tooLong)) {
        case SyslogFramer::Result::Frame: shipFrame(c, frame, shipper); break;
        case SyslogFramer::Result::TooLong: {
          shipper.refuse();
          counts_.refusedOne();
          uint64_t suppressed = 0;
          if (refusedLog_.ready(suppressed)) {
            spdlog::error(
                "{}: a frame of {}{} bytes from {} refused: over the limit of {} bytes "
                "(--max-message-bytes); skipped, the connection goes on{}",
                name_, tooLong.bytes, tooLong.atLeast ? "+" : "", c.peer, maxMessageBytes_,
                suppressed > 0 ? fmt::format("; {} more refused before it", suppressed) : "");
          }
          break;
        }
        case SyslogFramer::Result::NeedMore: return;
      }
    }
  };
  auto finishRest = [&](std::string_view why) {
    shipRest(c, shipper, "the connection closed");
    spdlog::debug("{}: connection from {} {}", name_, c.peer, why);
  };
  for (int i = 0; i < kReadsPerWakeUp; ++i) {
    char* p = c.framer.writable(kReadBytes);
    const ssize_t n = ::read(c.socket.get(), p, kReadBytes);
    if (n > 0) {
      c.lastActive = std::chrono::steady_clock::now();
      byIdle_.splice(byIdle_.end(), byIdle_, c.idlePos);
      c.framer.commit(static_cast<size_t>(n));
      drain();
      if (static_cast<size_t>(n) < kReadBytes) break;
      continue;
    }
    if (n == 0) {
      finishRest("closed");
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR) continue;
    const int error = errno;  // ECONNRESET, or ETIMEDOUT from the keepalive probes
    finishRest(fmt::format("ended: {}", std::strerror(error)));
    return false;
  }
  c.framer.shrink();
  return true;
}

void SyslogTcpInput::shipRest(Connection& c, Shipper& shipper, std::string_view why) {
  std::string_view frame;
  bool cut = false;
  if (c.framer.rest(frame, cut)) {
    shipFrame(c, frame, shipper, cut ? fmt::format("{} inside an octet-counted frame: its end is missing", why) : "");
  }
}

void SyslogTcpInput::shipFrame(Connection& c, std::string_view frame, Shipper& shipper, std::string_view cutReason) {
  bool parsed = parser_.parse(frame, shipper.recordTemplate(), c.peerHost, nowMicros(), record_);
  if (!cutReason.empty()) {
    FieldBuilder fields(record_, record_);  // replaces the parser's parse_error, if any
    fields.add(kParseErrorField, cutReason);
    parsed = false;
  }
  counts_.message(parsed);
  shipper.ship(record_);
}

void SyslogTcpInput::close(int fd) {
  const auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  byIdle_.erase(it->second->idlePos);
  connections_.erase(it);  // closing the socket takes it out of the epoll set
  counts_.closed();
}

void SyslogTcpInput::endOfInput(Shipper& shipper) {
  for (auto& [fd, c] : connections_) {
    // What the connection already holds in the kernel is read once more (bounded), then what is left
    // of a last frame is shipped.
    if (!shipper.failed() && !readConnection(*c, shipper)) continue;  // closed meanwhile: done
    shipRest(*c, shipper, "the producer stopped");
  }
  counts_.closed(connections_.size());
  connections_.clear();
  byIdle_.clear();
  spdlog::info(
      "{}: {} message(s) received ({} without a syslog header or cut short) over {} connection(s), {} "
      "refused as too large",
      name_, counts_.messages, counts_.unparsed, counts_.connections, counts_.refused);
  if (counts_.timedOut + counts_.evicted > 0) {
    spdlog::info("{}: {} idle connection(s) closed after --syslog-idle-timeout, {} at --syslog-max-connections", name_,
                 counts_.timedOut, counts_.evicted);
  }
}

}  // namespace logship
