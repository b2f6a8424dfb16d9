#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "core/timestamp.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/shipper.hpp"

namespace logship {
namespace {

constexpr int kReceiveBufferBytes = 8 * 1024 * 1024;
constexpr int kDatagramsPerRead = 4096;  // then the other inputs and the stop signal get a turn

}  // namespace

bool LogThrottle::ready(uint64_t& suppressed) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) {
    ++held_;
    return false;
  }
  next_ = now + std::chrono::seconds(10);
  suppressed = std::exchange(held_, 0);
  return true;
}

SyslogUdpInput::SyslogUdpInput(const std::string& address, size_t maxMessageBytes, SyslogMetrics* metrics)
    : socket_(bindSocket(address, SOCK_DGRAM, "--syslog-udp")),
      maxMessageBytes_(maxMessageBytes),
      buf_(std::min<size_t>(std::max<size_t>(maxMessageBytes, 1), 65536)) {
  counts_.shared = metrics;
  const int fd = socket_.get();
  // A large receive buffer rides out bursts while the input thread is busy (or waits for the
  // spool). SO_RCVBUFFORCE passes net.core.rmem_max for a privileged process; else SO_RCVBUF up to it.
  int want = kReceiveBufferBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  int got = 0;
  socklen_t length = sizeof got;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &length);
  // The kernel's count of datagrams it dropped for this socket comes with every datagram read.
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &yes, sizeof yes);
  const std::string bound = boundAddressText(fd);
  name_ = "syslog udp " + bound;
  // The kernel reports twice the size set (the other half is for its bookkeeping).
  spdlog::info("listening for syslog on udp {} (receive buffer {} KiB)", bound, got / 2 / 1024);
}

bool SyslogUdpInput::read(Shipper& shipper) {
  for (int i = 0; i < kDatagramsPerRead && !shipper.failed(); ++i) {
    sockaddr_storage from{};
    iovec iov{buf_.data(), buf_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    // MSG_TRUNC: the datagram's real length, even when it did not fit.
    const ssize_t n = ::recvmsg(socket_.get(), &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      throw Error(fmt::format("{}: receiving: {}", name_, std::strerror(errno)));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
      uint32_t drops = 0;
      std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
      if (drops != kernelDrops_) {
        const uint32_t lost = drops - kernelDrops_;
        kernelDrops_ = drops;
        counts_.lostSome(lost);
        uint64_t suppressed = 0;
        if (lostLog_.ready(suppressed)) {
          spdlog::warn(
              "{}: {} datagram(s) lost so far: the kernel dropped them before they were read (receive "
              "buffer full; the producer was busy or waiting for the broker)",
              name_, counts_.lost);
        }
      }
    }
    if (n == 0) continue;  // an empty datagram carries nothing
    const size_t size = static_cast<size_t>(n);
    if (size > maxMessageBytes_) {
      shipper.refuse();
      counts_.refusedOne();
      uint64_t suppressed = 0;
      if (refusedLog_.ready(suppressed)) {
        spdlog::error("{}: a datagram of {} bytes from {} refused: over the limit of {} bytes (--max-message-bytes){}",
                      name_, size, socketAddressText(from, true), maxMessageBytes_,
                      suppressed > 0 ? fmt::format("; {} more refused before it", suppressed) : "");
      }
      continue;
    }
    counts_.message(parser_.parse(std::string_view(buf_.data(), size), shipper.recordTemplate(),
                                  socketAddressText(from, false), nowMicros(), record_));
    shipper.ship(record_);
  }
  return true;
}

void SyslogUdpInput::endOfInput(Shipper& shipper) {
  // What the kernel already holds is read once more: only datagrams that arrive after this are lost
  // with the socket.
  if (!shipper.failed()) read(shipper);
  spdlog::info(
      "{}: {} message(s) received ({} without a syslog header), {} refused as too large, {} lost in the "
      "kernel",
      name_, counts_.messages, counts_.unparsed, counts_.refused, counts_.lost);
}

std::vector<std::unique_ptr<Input>> makeSyslogInputs(const SyslogOptions& options, SyslogMetrics* metrics) {
  std::vector<std::unique_ptr<Input>> inputs;
  for (const auto& address : options.udp) {
    inputs.push_back(std::make_unique<SyslogUdpInput>(address, options.maxMessageBytes, metrics));
  }
  for (const auto& address : options.tcp) {
    inputs.push_back(std::make_unique<SyslogTcpInput>(address, options.maxMessageBytes, options.maxConnections,
                                                      std::chrono::seconds(options.idleTimeoutSeconds), metrics));
  }
  return inputs;
}

}  // namespace logship
