#include "console/pipeline.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::console {
namespace {

constexpr auto kScrapeDeadline = std::chrono::seconds(2);

double sum(const std::map<std::string, double>& m, std::initializer_list<const char*> names) {
  double total = 0;
  for (const char* n : names) {
    if (auto it = m.find(n); it != m.end()) total += it->second;
  }
  return total;
}

Json value(const std::map<std::string, double>& m, const char* name) {
  auto it = m.find(name);
  return it != m.end() ? Json(it->second) : Json();
}

}  // namespace

std::map<std::string, double> sumSamples(std::string_view text) {
  std::map<std::string, double> out;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    if (line.empty() || line.front() == '#') continue;
    const size_t nameEnd = line.find_first_of("{ ");
    if (nameEnd == std::string_view::npos || nameEnd == 0) continue;
    size_t rest = nameEnd;
    if (line[nameEnd] == '{') {
      rest = line.rfind('}');
      if (rest == std::string_view::npos) continue;
      ++rest;
    }
    std::string_view tail = line.substr(rest);
    while (tail.starts_with(' ')) tail.remove_prefix(1);
    const std::string number(tail.substr(0, tail.find(' ')));
    char* end = nullptr;
    const double v = std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size()) continue;
    out[std::string(line.substr(0, nameEnd))] += v;
  }
  return out;
}

std::string targetBase(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (!url.starts_with(kHttp)) {
    throw UsageError(
        fmt::format("--metrics-target '{}': expected http://HOST:PORT[/metrics] (a program's "
                    "--metrics-listen)",
                    escaped(url)));
  }
  const size_t slash = url.find('/', kHttp.size());
  const std::string_view hostPort =
      url.substr(kHttp.size(), slash == std::string_view::npos ? url.npos : slash - kHttp.size());
  if (hostPort.empty() || hostPort.find(':') == std::string_view::npos) {
    throw UsageError(fmt::format("--metrics-target '{}': no HOST:PORT", escaped(url)));
  }
  return std::string(url.substr(0, kHttp.size() + hostPort.size()));
}

Pipeline::Pipeline(std::vector<std::string> targets) : targets_(std::move(targets)) {
  for (const auto& t : targets_) targetBase(t);
}

Json Pipeline::scrape() {
  Json out = Json::array();
  for (const auto& t : targets_) out.push_back(scrapeOne(t));
  return {{"targets", std::move(out)}};
}

Json Pipeline::scrapeOne(const std::string& url) {
  httplib::Client client(targetBase(url));
  client.set_connection_timeout(kScrapeDeadline);
  client.set_read_timeout(kScrapeDeadline);
  client.set_write_timeout(kScrapeDeadline);
  Json j = {{"url", url},
            {"up", false},
            {"role", "unknown"},
            {"records_in_per_s", nullptr},
            {"records_out_per_s", nullptr},
            {"spool_bytes", nullptr},
            {"held_bytes", nullptr},
            {"errors", nullptr},
            {"last_error", ""},
            {"healthy", false},
            {"health_reason", ""}};
  const auto metrics = client.Get("/metrics");
  if (!metrics || metrics->status != 200) {
    j["last_error"] = metrics ? fmt::format("/metrics answered {}", metrics->status)
                              : fmt::format("/metrics: {}", httplib::to_string(metrics.error()));
    j["health_reason"] = "down";
    return j;
  }
  const auto m = sumSamples(metrics->body);
  const bool producer = m.contains("logship_producer_records_read_total");
  const bool aggregator = m.contains("logship_aggregator_records_received_total");
  j["up"] = true;
  j["role"] = producer ? "producer" : aggregator ? "aggregator" : "unknown";
  const double in = producer ? sum(m, {"logship_producer_records_read_total"})
                             : sum(m, {"logship_aggregator_records_received_total"});
  const double out = producer ? sum(m, {"logship_producer_records_confirmed_total"})
                              : sum(m, {"logship_aggregator_records_written_total"});
  const auto now = std::chrono::steady_clock::now();
  {
    const std::lock_guard lock(mutex_);
    auto it = previous_.find(url);
    if (it != previous_.end()) {
      const double secs = std::chrono::duration<double>(now - it->second.at).count();
      if (secs > 0) {
        j["records_in_per_s"] = std::max(0.0, (in - it->second.in) / secs);
        j["records_out_per_s"] = std::max(0.0, (out - it->second.out) / secs);
      }
    }
    previous_[url] = Previous{now, in, out};
  }
  j["spool_bytes"] = value(m, "logship_producer_spool_bytes");
  j["held_bytes"] = value(m, "logship_producer_in_flight_bytes");
  double errors = 0;
  for (const auto& [name, v] : m) {
    if (name.ends_with("_errors_total")) errors += v;
  }
  j["errors"] = errors + sum(m, {"logship_producer_records_failed_total", "logship_producer_records_dropped_total"});
  const auto health = client.Get("/healthz");
  j["healthy"] = health && health->status == 200;
  if (!health) {
    j["health_reason"] = fmt::format("/healthz: {}", httplib::to_string(health.error()));
  } else {
    std::string body = health->body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    j["health_reason"] = body;
    if (health->status != 200) j["last_error"] = body;
  }
  return j;
}

}  // namespace logship::console
