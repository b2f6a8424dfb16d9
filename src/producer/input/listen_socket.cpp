#include "producer/input/listen_socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "metrics/http_server.hpp"

namespace logship {

Socket bindSocket(std::string_view text, int type, std::string_view flag) {
  const metrics::ListenAddress address = metrics::parseListenAddress(text, flag);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = type;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    const std::string message =
        fmt::format("{} {}: cannot resolve '{}': {}", flag, escaped(text), escaped(address.host), gai_strerror(rc));
    if (rc == EAI_NONAME) throw UsageError(message);
    throw Error(message);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, freeaddrinfo);
  int lastErrno = EADDRNOTAVAIL;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Socket s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!s) {
      lastErrno = errno;
      continue;
    }
    if (type == SOCK_STREAM) {
      // Lets a restarted producer bind past connections in TIME_WAIT; on Linux it never lets two
      // listeners share a port. (Not for UDP, where it would.)
      const int yes = 1;
      ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    }
    if (::bind(s.get(), ai->ai_addr, ai->ai_addrlen) != 0 || (type == SOCK_STREAM && ::listen(s.get(), 128) != 0)) {
      lastErrno = errno;
      continue;
    }
    return s;
  }
  std::string why = std::strerror(lastErrno);
  if (lastErrno == EACCES && address.port < 1024) why += " (a port below 1024 needs root or CAP_NET_BIND_SERVICE)";
  if (lastErrno == EADDRINUSE) why += " (another program listens there)";
  throw Error(fmt::format("{} {}: cannot bind: {}", flag, escaped(text), why));
}

std::string socketAddressText(const sockaddr_storage& address, bool withPort) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    return withPort ? fmt::format("{}:{}", host, ntohs(in.sin_port)) : std::string(host);
  }
  if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      ::inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], host, sizeof host);
      return withPort ? fmt::format("{}:{}", host, ntohs(in6.sin6_port)) : std::string(host);
    }
    ::inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    return withPort ? fmt::format("[{}]:{}", host, ntohs(in6.sin6_port)) : std::string(host);
  }
  return {};
}

std::string boundAddressText(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return "?";
  return socketAddressText(address, true);
}

}  // namespace logship
