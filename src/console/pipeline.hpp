#pragma once
// GET /api/pipeline: each --metrics-target (a producer's or aggregator's --metrics-listen) scraped:
// /metrics for the numbers, /healthz for the verdict, each within a short deadline.
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "console/records.hpp"

namespace logship::console {

// The Prometheus text format's samples added up per metric name (labels ignored): "# " lines and
// lines that do not parse are skipped. Pure (unit-tested).
std::map<std::string, double> sumSamples(std::string_view text);

// scheme://host:port of a --metrics-target URL (http://HOST:PORT[/metrics]); throws UsageError.
std::string targetBase(std::string_view url);

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::string> targets);  // throws UsageError for a bad URL
  Json scrape();
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  struct Previous {
    std::chrono::steady_clock::time_point at;
    double in = 0, out = 0;
  };
  Json scrapeOne(const std::string& url);
  std::vector<std::string> targets_;
  std::mutex mutex_;
  std::map<std::string, Previous> previous_;  // for the rates: the last scrape of each target
};

}  // namespace logship::console
