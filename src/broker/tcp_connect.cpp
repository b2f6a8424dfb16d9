#include "broker/tcp_connect.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file.hpp"

namespace logship {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const noexcept { freeaddrinfo(ai); }
};

// Connects one address; returns the fd, or an invalid one with `error` set.
UniqueFd connectOne(const addrinfo* ai, std::chrono::milliseconds timeout, std::string& error) {
  UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (!fd.valid() || (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)) {
    error = std::strerror(errno);
    return {};
  }
  pollfd pfd{fd.get(), POLLOUT, 0};
  int ready;
  do {
    ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    error = "timed out";
    return {};
  }
  int soError = 0;
  socklen_t len = sizeof soError;
  if (ready < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soError, &len) != 0 || soError != 0) {
    error = std::strerror(soError != 0 ? soError : errno);
    return {};
  }
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  return fd;
}

}  // namespace

int connectTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* raw = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw); rc != 0) {
    throw ConnectionError(fmt::format("cannot resolve host '{}': {}", host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(raw);
  std::string error = "no address";
  for (const addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    if (UniqueFd fd = connectOne(ai, timeout, error); fd.valid()) return fd.release();
  }
  throw ConnectionError(error);
}

std::string noHandshakeAnswer(const std::string& where, std::string_view protocol, std::chrono::milliseconds timeout) {
  return fmt::format(
      "no answer from {} within {} s (--connect-timeout): the port accepts connections but nothing answers as {} "
      "(is it the broker's port? is the broker overloaded or stopped?)",
      where, static_cast<double>(timeout.count()) / 1000.0, protocol);
}

}  // namespace logship
