#pragma once
// The HTTP endpoint of --metrics-listen: GET /metrics (the registry in the Prometheus text format
// 0.0.4) and GET /healthz (200 "ok", or 503 and the reason of the first failing health check), on
// a thread of its own. cpp-httplib does the HTTP; no header of ours shows it.
#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "metrics/registry.hpp"

namespace httplib {
class Server;
}

namespace logship::metrics {

struct ListenAddress {
  std::string host;          // a name or an IP address, IPv6 without its brackets
  uint16_t port = 0;         // 0: any free port
  std::string text() const;  // "host:port", "[v6]:port"
};

// Parses HOST:PORT or [IPV6]:PORT (port 0 to 65535). Throws UsageError naming `flag` and the text.
ListenAddress parseListenAddress(std::string_view text, std::string_view flag = "--metrics-listen");

// For every cpp-httplib server of ours (also logctl serve's console): binds `server` to `address`
// with SO_REUSEADDR only (not cpp-httplib's default SO_REUSEPORT, which would let a second program
// bind the same port and silently share the requests); port 0
// picks a free port, written back into `address`. Throws UsageError when the host name does not
// resolve, Error when the address cannot be bound (saying why: in use, not this machine's, ...),
// each naming `flag` and the address.
void bindHttpServer(httplib::Server& server, ListenAddress& address, std::string_view flag);

// The threads of a server take no signals: the program's handlers run on its own threads, and a
// signal interrupting cpp-httplib's accept() would end the server. Threads started while one of
// these lives inherit the mask.
class SignalsBlocked {
 public:
  SignalsBlocked();
  ~SignalsBlocked();
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};

class HttpServer {
 public:
  // Binds `address` at once and starts serving. Throws UsageError when the host name does not
  // resolve, Error when the address cannot be bound (the port is in use, the address is not one of
  // this machine's, ...), each naming `flag` and the address.
  HttpServer(const ListenAddress& address, const Registry& registry, std::string_view flag = "--metrics-listen");
  ~HttpServer();  // stops serving and joins the thread
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The address being served, with the port actually bound (the chosen one for port 0).
  const ListenAddress& address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logship::metrics
