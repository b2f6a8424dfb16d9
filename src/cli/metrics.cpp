#include "cli/metrics.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

#include "core/escape.hpp"

namespace logship::cli {

void addMetricsFlag(CLI::App& app, std::string& listen) {
  app.add_option("--metrics-listen", listen,
                 "Serve Prometheus metrics at http://ADDR/metrics and a health check at /healthz; ADDR is HOST:PORT "
                 "(e.g. 127.0.0.1:9464, [::1]:9464; port 0 picks a free port and logs it)")
      ->type_name("ADDR");
}

ProgramMetrics::ProgramMetrics(const std::string& program, const std::string& listen) : prefix_("logship_" + program) {
  if (!listen.empty()) listen_ = metrics::parseListenAddress(listen);
  startTime_ = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  process_ = std::make_unique<metrics::Registry::Group>(registry_);
  process_->gauge(prefix_ + "_build_info", "Always 1; the version of the program is its label", [] { return 1.0; },
                  {{"version", LOGSHIP_VERSION}});
  process_->gauge(prefix_ + "_start_time_seconds", "When the process started, in seconds since the Unix epoch",
                  [start = startTime_] { return start; });
}

ProgramMetrics::~ProgramMetrics() {
  server_.reset();  // no scrape runs once the groups start to go
}

void ProgramMetrics::serve() {
  if (!listen_ || server_) return;
  server_ = std::make_unique<metrics::HttpServer>(*listen_, registry_);
  const std::string where = server_->address().text();
  spdlog::info("serving metrics on http://{}/metrics and health on http://{}/healthz", escaped(where), escaped(where));
}

}  // namespace logship::cli
