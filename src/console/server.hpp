#pragma once
// logctl serve: the web console's HTTP server (docs/CONSOLE.md). The pages are the embedded build of
// web/ (assets.hpp); the JSON API under /api/ runs the engines of logctl search, tail, status and
// dead. cpp-httplib does the HTTP; no header of ours shows it.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/options.hpp"
#include "metrics/http_server.hpp"

namespace logship::console {

struct ConsoleOptions {
  metrics::ListenAddress listen{"127.0.0.1", 8080};
  std::vector<std::string> files;           // --files: globs of aggregated outputs
  std::vector<std::string> metricsTargets;  // --metrics-target: URLs of /metrics pages
  std::optional<std::string> token;         // from --token-file; nullopt: no token asked
  BrokerOptions broker;
  std::string queue = "logs_queue";
};

// Throws UsageError (exit 2) when the listen address is not loopback and no token is given.
void checkExposure(const ConsoleOptions& options);

class ConsoleServer {
 public:
  // Checks the options (checkExposure, the --metrics-target URLs), binds and starts serving.
  // Throws UsageError / Error as metrics::bindHttpServer does.
  explicit ConsoleServer(ConsoleOptions options);
  ~ConsoleServer();  // stops serving (live clients are ended) and joins the threads
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  const metrics::ListenAddress& address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace logship::console
