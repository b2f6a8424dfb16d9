#include "metrics/http_server.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship::metrics {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// The limits of the endpoint (docs/OPERATIONS.md, "Metrics and health checks").
constexpr auto kRequestDeadline = std::chrono::seconds(5);  // to send the whole request head; to write the answer
constexpr size_t kMaxConnections = 64;                      // reading their request; more: the oldest idle closed
constexpr size_t kMaxHeadBytes = 8192;                      // a longer request head: closed
constexpr size_t kWorkers = 2;                              // answering /metrics (and / ...)
constexpr size_t kMaxJobs = 16;                             // waiting for or on a worker; more: closed

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

// A close-on-exec pipe: ends[0] reads, ends[1] writes. False with errno set.
bool openPipe(UniqueFd (&ends)[2]) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  ends[0].reset(fds[0]);
  ends[1].reset(fds[1]);
  return true;
}

// Why binding failed: cpp-httplib only says that it did, so bind once more ourselves to learn the
// errno (only on this error path).
std::string bindError(const ListenAddress& a) {
  AddrInfo ai;
  if (resolve(a, ai) != 0) return "cannot resolve the address";
  int error = 0;
  for (addrinfo* p = ai.list; p != nullptr; p = p->ai_next) {
    const UniqueFd fd(::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol));
    if (!fd.valid()) {
      error = errno;
      continue;
    }
    const int yes = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd.get(), p->ai_addr, p->ai_addrlen) != 0 && error == 0) error = errno;
  }
  if (error == 0) return "bind failed";
  std::string why = std::strerror(error);
  if (error == EADDRINUSE) why += " (another program listens on that port)";
  if (error == EADDRNOTAVAIL) why += " (not an address of this machine)";
  if (error == EACCES) why += " (ports below 1024 need privileges)";
  return why;
}

}  // namespace

SignalsBlocked::SignalsBlocked() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved_);
}

SignalsBlocked::~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

void bindHttpServer(httplib::Server& s, ListenAddress& address, std::string_view flag) {
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
  s.set_socket_options([](socket_t sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (address.port == 0) {
    const int port = s.bind_to_any_port(address.host);
    if (port <= 0)
      throw Error(fmt::format("{} {}: cannot listen: {}", flag, escaped(address.text()), bindError(address)));
    address.port = static_cast<uint16_t>(port);
  } else if (!s.bind_to_port(address.host, address.port)) {
    throw Error(fmt::format("{} {}: cannot listen: {}", flag, escaped(address.text()), bindError(address)));
  }
}

std::string ListenAddress::text() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

ListenAddress parseListenAddress(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return UsageError(
        fmt::format("{} '{}': {} (expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464)", flag, escaped(text), why));
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

namespace {

// cpp-httplib's own accept loop hands every connection to a worker that blocks reading it: a few
// clients sending their request a byte at a time (or many idle connections) would hold every worker
// and leave /healthz unanswered. So the server reads request heads itself, for all connections at
// once on one thread (poll), with a deadline for the whole head and a cap on connections, and only
// then lets cpp-httplib parse and answer: /healthz at once on that thread (its answer fits in any
// socket buffer), the rest (/metrics) on the workers.
class Server final : public httplib::Server {
 public:
  using httplib::Server::process_request;
  socket_t listenSocket() const { return svr_sock_; }
  // cpp-httplib's stop() closes the listening socket only after its own listen loop ran: ours did.
  void closeListener() {
    const socket_t s = svr_sock_.exchange(INVALID_SOCKET);
    if (s != INVALID_SOCKET) ::close(s);
  }
};

// One accepted connection: owns the descriptor.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd), accepted_(std::chrono::steady_clock::now()) {}
  int fd() const { return fd_.get(); }
  std::string& head() { return head_; }
  std::chrono::steady_clock::time_point accepted() const { return accepted_; }

 private:
  UniqueFd fd_;
  std::string head_;
  std::chrono::steady_clock::time_point accepted_;
};

// The stream cpp-httplib reads the request from and writes the answer to: first the head already
// read, then the socket; every read and write waits at most until `deadline`.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(Connection& c, std::chrono::steady_clock::time_point deadline) : c_(c), deadline_(deadline) {}
  bool is_readable() const override { return pos_ < c_.head().size() || wait(POLLIN); }
  bool is_writable() const override { return wait(POLLOUT); }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < c_.head().size()) {
      const size_t n = std::min(size, c_.head().size() - pos_);
      std::memcpy(ptr, c_.head().data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!wait(POLLIN)) return -1;
    return ::recv(c_.fd(), ptr, size, MSG_DONTWAIT);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::send(c_.fd(), ptr + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      const bool retry = n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      if (!retry || !wait(POLLOUT)) return -1;
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  socket_t socket() const override { return c_.fd(); }

 private:
  bool wait(short events) const {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
      pollfd p{c_.fd(), events, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (rc > 0) return true;
      if (rc == 0 || errno != EINTR) return false;
    }
  }
  template <typename Get>
  void address(Get get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "0";
    if (get(c_.fd(), reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      ::getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    }
    ip = host;
    port = std::atoi(serv);
  }

  Connection& c_;
  std::chrono::steady_clock::time_point deadline_;
  size_t pos_ = 0;
};

bool isHealthz(std::string_view head) {
  for (std::string_view method : {"GET ", "HEAD "}) {
    if (!head.starts_with(method)) continue;
    const std::string_view target = head.substr(method.size());
    return target.starts_with("/healthz ") || target.starts_with("/healthz?");
  }
  return false;
}

}  // namespace

struct HttpServer::Impl {
  Server server;
  ListenAddress address;
  std::thread thread;
  std::atomic<bool> stop{false};
  UniqueFd wake[2];                              // a pipe: the destructor writes to it to end the loop
  std::unique_ptr<httplib::ThreadPool> workers;  // started once the address is bound
  std::atomic<size_t> jobs{0};                   // connections handed to the workers and not finished

  ~Impl() {
    if (workers) workers->shutdown();  // each job ends within kRequestDeadline
    server.closeListener();
  }
  void loop();
  void acceptAll(std::deque<Connection>& open);
  bool readHead(Connection& c);  // false: the connection is done with (answered, closed or broken)
  void answer(Connection&& c);
};

void HttpServer::Impl::loop() {
  std::deque<Connection> open;  // oldest first
  std::vector<pollfd> fds;
  while (!stop.load()) {
    const auto now = std::chrono::steady_clock::now();
    // Past the deadline for its request head (slow or idle): closed.
    std::erase_if(open, [&](const Connection& c) { return now - c.accepted() >= kRequestDeadline; });
    fds.assign({pollfd{wake[0].get(), POLLIN, 0}, pollfd{server.listenSocket(), POLLIN, 0}});
    for (const Connection& c : open) fds.push_back(pollfd{c.fd(), POLLIN, 0});
    int timeout = -1;  // nothing to expire: until something happens
    if (!open.empty()) {
      const auto left = open.front().accepted() + kRequestDeadline - now;  // the oldest expires first
      timeout = static_cast<int>(std::max<int64_t>(std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1));
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0) continue;
    if (fds[0].revents != 0) break;
    // Read before accepting: the new connections are at the back, past the pollfds.
    std::deque<Connection> still;
    for (size_t i = 0; i < open.size(); ++i) {
      if (fds[i + 2].revents == 0 || readHead(open[i])) still.push_back(std::move(open[i]));
    }
    open = std::move(still);
    if (fds[1].revents != 0) acceptAll(open);
  }
}

void HttpServer::Impl::acceptAll(std::deque<Connection>& open) {
  for (;;) {
    const int fd = ::accept4(server.listenSocket(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: all taken; other errors (EMFILE, ...): the next poll tries again
    if (open.size() >= kMaxConnections) {
      // Full: close the oldest connection that has sent nothing yet, else the oldest.
      auto idle = std::find_if(open.begin(), open.end(), [](Connection& c) { return c.head().empty(); });
      open.erase(idle != open.end() ? idle : open.begin());
    }
    open.emplace_back(fd);
  }
}

bool HttpServer::Impl::readHead(Connection& c) {
  std::string& head = c.head();
  const size_t before = head.size();
  head.resize(kMaxHeadBytes);
  const ssize_t n = ::recv(c.fd(), head.data() + before, kMaxHeadBytes - before, MSG_DONTWAIT);
  head.resize(before + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  if (n == 0) return false;  // the client closed
  const size_t end = head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) return head.size() < kMaxHeadBytes;  // an over-long head: closed
  answer(std::move(c));
  return false;
}

void HttpServer::Impl::answer(Connection&& c) {
  if (isHealthz(c.head())) {
    // On this thread, without waiting: the answer is a few hundred bytes.
    DeadlineStream stream(c, std::chrono::steady_clock::now());
    bool closed = false;
    server.process_request(stream, true, closed, [](httplib::Request&) {});
    return;
  }
  if (jobs.load() >= kMaxJobs) return;  // the workers are saturated: closed
  ++jobs;
  auto job = std::make_shared<Connection>(std::move(c));
  workers->enqueue([this, job] {
    DeadlineStream stream(*job, std::chrono::steady_clock::now() + kRequestDeadline);
    bool closed = false;
    server.process_request(stream, true, closed, [](httplib::Request&) {});
    --jobs;
  });
}

HttpServer::HttpServer(const ListenAddress& address, const Registry& registry, std::string_view flag)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = address;
  httplib::Server& s = impl_->server;
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

  bindHttpServer(s, impl_->address, flag);
  // Non-blocking: the loop accepts until EAGAIN; a backlog of SOMAXCONN (cpp-httplib listens with 5),
  // so that a burst of connections is not refused before the loop gets to them.
  const int listening = impl_->server.listenSocket();
  if (::listen(listening, SOMAXCONN) != 0 ||
      ::fcntl(listening, F_SETFL, ::fcntl(listening, F_GETFL) | O_NONBLOCK) != 0 || !openPipe(impl_->wake)) {
    throw Error(fmt::format("{} {}: cannot listen: {}", flag, escaped(address.text()), std::strerror(errno)));
  }
  SignalsBlocked blocked;  // inherited by the server thread and the workers
  impl_->workers = std::make_unique<httplib::ThreadPool>(kWorkers);
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

HttpServer::~HttpServer() {
  impl_->stop = true;
  const char byte = 0;
  if (::write(impl_->wake[1].get(), &byte, 1) < 0) {  // cannot fail on a fresh pipe; the loop also checks `stop`
  }
  if (impl_->thread.joinable()) impl_->thread.join();
  // ~Impl stops the workers and closes the listening socket.
}

const ListenAddress& HttpServer::address() const { return impl_->address; }

}  // namespace logship::metrics
