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
                               SyslogMetrics* metrics)
    : listener_(bindSocket(address, SOCK_STREAM, "--syslog-tcp")),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      maxMessageBytes_(maxMessageBytes),
      maxConnections_(maxConnections) {
  counts_.shared = metrics;
  if (!epoll_) throw Error(fmt::format("--syslog-tcp {}: epoll_create1: {}", address, std::strerror(errno)));
  watchListener(true);
  const std::string bound = boundAddressText(listener_.get());
  name_ = "syslog tcp " + bound;
  spdlog::info("listening for syslog on tcp {} (at most {} connections)", bound, maxConnections_);
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
  if (!listening_ && connections_.size() < maxConnections_) {
    const auto left = acceptAgainAt_ - std::chrono::steady_clock::now();
    return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(left));
  }
  return std::chrono::milliseconds(1000);
}

bool SyslogTcpInput::read(Shipper& shipper) {
  if (!listening_ && connections_.size() < maxConnections_ && std::chrono::steady_clock::now() >= acceptAgainAt_) {
    watchListener(true);
  }
  epoll_event events[kEventsPerWakeUp];
  const int n = ::epoll_wait(epoll_.get(), events, kEventsPerWakeUp, 0);
  if (n < 0) {
    if (errno == EINTR) return true;
    throw Error(fmt::format("{}: epoll_wait: {}", name_, std::strerror(errno)));
  }
  for (int i = 0; i < n && !shipper.failed(); ++i) {
    const int fd = events[i].data.fd;
    if (fd == listener_.get()) {
      accept();
      continue;
    }
    auto it = connections_.find(fd);
    if (it == connections_.end()) continue;
    if (!readConnection(*it->second, shipper)) close(fd);
  }
  return true;
}

void SyslogTcpInput::accept() {
  for (;;) {
    if (connections_.size() >= maxConnections_) {
      watchListener(false);
      uint64_t suppressed = 0;
      if (capLog_.ready(suppressed)) {
        spdlog::warn("{}: {} connections open: no more are accepted until one closes (--syslog-max-connections)",
                     name_, connections_.size());
      }
      return;
    }
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    const int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    auto c = std::make_unique<Connection>(std::move(s), socketAddressText(from, true), socketAddressText(from, false),
                                          maxMessageBytes_);
    spdlog::debug("{}: connection from {}", name_, c->peer);
    connections_.emplace(fd, std::move(c));
    counts_.opened();
  }
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
            spdlog::error("{}: a frame of {}{} bytes from {} refused: over the limit of {} bytes "
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
    std::string_view frame;
    bool cut = false;
    if (c.framer.rest(frame, cut)) {
      shipFrame(c, frame, shipper, cut ? "the connection closed inside an octet-counted frame: its end is missing" : "");
    }
    spdlog::debug("{}: connection from {} {}", name_, c.peer, why);
  };
  for (int i = 0; i < kReadsPerWakeUp; ++i) {
    char* p = c.framer.writable(kReadBytes);
    const ssize_t n = ::read(c.socket.get(), p, kReadBytes);
    if (n > 0) {
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
  counts_.closed(connections_.erase(fd));  // closing the socket takes it out of the epoll set
  if (!listening_ && connections_.size() < maxConnections_ && std::chrono::steady_clock::now() >= acceptAgainAt_) {
    watchListener(true);
  }
}

void SyslogTcpInput::endOfInput(Shipper& shipper) {
  for (auto& [fd, c] : connections_) {
    // What the connection already holds in the kernel is read once more (bounded), then what is left
    // of a last frame is shipped.
    if (!shipper.failed() && !readConnection(*c, shipper)) continue;  // closed meanwhile: done
    std::string_view frame;
    bool cut = false;
    if (c->framer.rest(frame, cut)) {
      shipFrame(*c, frame, shipper,
                cut ? "the producer stopped inside an octet-counted frame: its end is missing" : "");
    }
  }
  counts_.closed(connections_.size());
  connections_.clear();
  spdlog::info("{}: {} message(s) received ({} without a syslog header or cut short) over {} connection(s), {} "
               "refused as too large",
               name_, counts_.messages, counts_.unparsed, counts_.connections, counts_.refused);
}

}  // namespace logship
