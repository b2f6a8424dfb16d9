#pragma once
// --metrics-listen, shared by the long-running programs (log_aggregator, log_producer): the
// program's metrics registry, its process metrics, and the HTTP endpoint serving them.
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "metrics/http_server.hpp"
#include "metrics/registry.hpp"

namespace logship::cli {

// Adds --metrics-listen ADDR.
void addMetricsFlag(CLI::App& app, std::string& listen);

// Declare it before everything whose metrics go into its registry: it outlives their groups, and
// its server stops before the registry goes.
class ProgramMetrics {
 public:
  // `program`: "aggregator" or "producer", the metric names' logship_<program>_ prefix.
  // `listen`: the --metrics-listen value ("" for none), validated here (UsageError, exit 2).
  // Registers <prefix>_build_info{version} and <prefix>_start_time_seconds.
  ProgramMetrics(const std::string& program, const std::string& listen);
  ~ProgramMetrics();

  // With --metrics-listen, binds and starts serving, and logs the address (Error when the port is
  // in use or the address cannot be bound: exit 1). Without, does nothing.
  void serve();

  metrics::Registry& registry() { return registry_; }
  const std::string& prefix() const { return prefix_; }  // "logship_<program>"

 private:
  std::string prefix_;
  metrics::Registry registry_;
  std::optional<metrics::ListenAddress> listen_;
  std::unique_ptr<metrics::Registry::Group> process_;
  std::unique_ptr<metrics::HttpServer> server_;
  double startTime_ = 0;
};

}  // namespace logship::cli
