// logctl serve: the web console. The server is src/console/; this file checks the flags, starts it
// and waits for Ctrl-C.
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "console/command.hpp"
#include "console/security.hpp"
#include "console/server.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "ctl/commands.hpp"

namespace logship::console {

int serve(const BrokerOptions& broker, const std::string& queue, const ctl::ServeRequest& request) {
  ConsoleOptions options;
  options.listen = metrics::parseListenAddress(request.listen, "--listen");
  if (request.files.empty()) throw UsageError("--files: give at least one file or glob of aggregated outputs");
  options.files = request.files;
  options.metricsTargets = request.metricsTargets;
  if (!request.tokenFile.empty()) options.token = readTokenFile(request.tokenFile);
  options.broker = broker;
  options.queue = queue;
  checkExposure(options);
  const ConsoleServer server(std::move(options));
  const std::string where = server.address().text();
  spdlog::info("serving the console on http://{}/", escaped(where));
  const std::atomic<bool> notStopped{false};
  const std::atomic<bool>& stop = broker.stopRequested != nullptr ? *broker.stopRequested : notStopped;
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("stopping the console");
  return 0;
}

}  // namespace logship::console
