#pragma once
// What a program exposes for operators: named metrics (Prometheus text exposition format 0.0.4)
// and health checks (/healthz). metrics/http_server.hpp serves it.
//
// The registry owns no values: it refers to Counters, Gauges and Histograms that the components
// own (their statistics are the metrics), or to functions read at scrape time. Everything is added
// through a Registry::Group, which removes what it added when it is destroyed: a component's
// metrics are registered once it exists, by a Group declared right after it, and are gone before
// it is. A scrape (render, unhealthy) runs under the registry's lock, so once a Group is destroyed
// none of its functions runs any more.
//
// Naming scheme (docs/OPERATIONS.md): logship_<program>_<thing>_<unit>, counters end in _total.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "metrics/metric.hpp"

namespace logship::metrics {

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

// A health check: nullopt when healthy, else why not (one line).
using HealthCheck = std::function<std::optional<std::string>()>;

enum class Type { Counter, Gauge, Histogram };

class Registry {
 public:
  class Group;

  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Every metric in the text exposition format, version 0.0.4: per family (in the order they were
  // first registered) "# HELP", "# TYPE" and its samples.
  std::string render() const;
  // nullopt when every health check passes, else the reason of the first that fails.
  std::optional<std::string> unhealthy() const;

 private:
  using Source =
      std::variant<const Counter*, const Gauge*, const Histogram*, std::function<uint64_t()>, std::function<double()>>;
  struct Child {
    uint64_t group;
    Labels labels;
    Source source;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<Child> children;
  };
  struct Check {
    uint64_t group;
    HealthCheck check;
  };

  uint64_t newGroup();
  void add(uint64_t group, std::string name, std::string help, Type type, Labels labels, Source source);
  void addCheck(uint64_t group, HealthCheck check);
  void remove(uint64_t group) noexcept;

  mutable std::mutex mu_;
  std::vector<Family> families_;
  std::vector<Check> checks_;
  uint64_t nextGroup_ = 1;
};

// Adds metrics and health checks to a Registry for as long as it lives. Registering a name that
// exists with another type or help text, the same labels twice, a counter whose name does not end
// in _total, or an invalid name is a programming error: std::logic_error.
class Registry::Group {
 public:
  explicit Group(Registry& registry) : registry_(registry), id_(registry.newGroup()) {}
  ~Group() { registry_.remove(id_); }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  Group& counter(std::string name, std::string help, const Counter& counter, Labels labels = {});
  Group& counter(std::string name, std::string help, std::function<uint64_t()> read, Labels labels = {});
  Group& gauge(std::string name, std::string help, const Gauge& gauge, Labels labels = {});
  Group& gauge(std::string name, std::string help, std::function<double()> read, Labels labels = {});
  Group& histogram(std::string name, std::string help, const Histogram& histogram, Labels labels = {});
  Group& health(HealthCheck check);

 private:
  Registry& registry_;
  uint64_t id_;
};

// Exposition format helpers (exposed for the tests).
// A label value: backslash, double quote and line feed escaped.
std::string escapeLabelValue(std::string_view value);
// A HELP text: backslash and line feed escaped.
std::string escapeHelp(std::string_view help);
// A sample value: shortest form that reads back exactly, +Inf, -Inf, NaN.
std::string formatValue(double value);

}  // namespace logship::metrics
