#include "metrics/http_server.hpp"

#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::metrics {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list != nullptr) freeaddrinfo(list);
  }
};

// getaddrinfo as the server binds: passive, TCP. Returns its error code.
int resolve(const ListenAddress& a, AddrInfo& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string port = std::to_string(a.port);
  return getaddrinfo(a.host.c_str(), port.c_str(), &hints, &out.list);
}

// Why binding failed: cpp-httplib only says that it did, so bind once more ourselves to learn the
// errno (only on this error path).
std::string bindError(const ListenAddress& a) {
  AddrInfo ai;
  if (resolve(a, ai) != 0) return "cannot resolve the address";
  int error = 0;
  for (addrinfo* p = ai.list; p != nullptr; p = p->ai_next) {
    const int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, p->ai_addr, p->ai_addrlen) != 0 && error == 0) error = errno;
    ::close(fd);
  }
  if (error == 0) return "bind failed";
  std::string why = std::strerror(error);
  if (error == EADDRINUSE) why += " (another program listens on that port)";
  if (error == EADDRNOTAVAIL) why += " (not an address of this machine)";
  if (error == EACCES) why += " (ports below 1024 need privileges)";
  return why;
}

// The server's threads take no signals: the program's handlers run on its own threads, and a
// signal interrupting cpp-httplib's accept() would end the server.
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

 private:
  sigset_t saved_;
};

}  // namespace

std::string ListenAddress::text() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

ListenAddress parseListenAddress(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return UsageError(fmt::format("{} '{}': {} (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)", flag,
                                  escaped(text), why));
  };
  ListenAddress a;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) throw bad("no ']' after the IPv6 address");
    a.host = std::string(text.substr(1, close - 1));
    if (close + 1 >= text.size() || text[close + 1] != ':') throw bad("no ':PORT' after the ']'");
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad("no port");
    a.host = std::string(text.substr(0, colon));
    if (a.host.find(':') != std::string::npos) throw bad("an IPv6 address goes in brackets");
    port = text.substr(colon + 1);
  }
  if (a.host.empty()) throw bad("no host (use 0.0.0.0 or [::] for every interface)");
  for (unsigned char c : a.host) {
    if (c <= 0x20 || c == 0x7f || c == '/' || c == '[' || c == ']') throw bad("invalid host");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    throw bad("the port must be a number from 0 to 65535");
  }
  a.port = static_cast<uint16_t>(value);
  return a;
}

struct HttpServer::Impl {
  httplib::Server server;
  ListenAddress address;
  std::thread thread;
  std::atomic<bool> finished{false};
};

HttpServer::HttpServer(const ListenAddress& address, const Registry& registry, std::string_view flag)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = address;
  {
    AddrInfo ai;
    const int rc = resolve(address, ai);
    if (rc == EAI_NONAME) {
      throw UsageError(fmt::format("{} {}: cannot resolve '{}': {}", flag, escaped(address.text()),
                                   escaped(address.host), gai_strerror(rc)));
    }
    if (rc != 0) {
      throw Error(fmt::format("{} {}: cannot resolve '{}': {}", flag, escaped(address.text()), escaped(address.host),
                              gai_strerror(rc)));
    }
  }
  httplib::Server& s = impl_->server;
  // Not cpp-httplib's default SO_REUSEPORT, which would let a second program bind the same port
  // and silently share the scrapes. SO_REUSEADDR only lets a restart bind past TIME_WAIT.
  s.set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Two workers: a scrape is quick; a client holding a keep-alive connection leaves one free.
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.set_keep_alive_timeout(2);  // also bounds how long stopping waits for an idle keep-alive client
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_payload_max_length(4096);
  s.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.render(), kContentType);
  });
  s.Get("/healthz", [&registry](const httplib::Request&, httplib::Response& res) {
    if (auto reason = registry.unhealthy()) {
      res.status = 503;
      res.set_content(*reason + "\n", "text/plain; charset=utf-8");
    } else {
      res.set_content("ok\n", "text/plain; charset=utf-8");
    }
  });
  s.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("Logship: /metrics (Prometheus text format), /healthz\n", "text/plain; charset=utf-8");
  });

  if (address.port == 0) {
    const int port = s.bind_to_any_port(address.host);
    if (port <= 0) throw Error(fmt::format("{} {}: cannot listen: {}", flag, escaped(address.text()), bindError(address)));
    impl_->address.port = static_cast<uint16_t>(port);
  } else if (!s.bind_to_port(address.host, address.port)) {
    throw Error(fmt::format("{} {}: cannot listen: {}", flag, escaped(address.text()), bindError(address)));
  }
  {
    SignalsBlocked blocked;  // inherited by the server thread and its workers
    impl_->thread = std::thread([impl = impl_.get()] {
      impl->server.listen_after_bind();
      impl->finished = true;
    });
  }
  // stop() only works once the server runs: wait for it (it starts at once).
  while (!s.is_running() && !impl_->finished.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

HttpServer::~HttpServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

const ListenAddress& HttpServer::address() const { return impl_->address; }

}  // namespace logship::metrics
