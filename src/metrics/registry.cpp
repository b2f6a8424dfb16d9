#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace logship::metrics {
namespace {

bool validName(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

const char* typeName(Type type) {
  switch (type) {
    case Type::Counter: return "counter";
    case Type::Gauge: return "gauge";
    case Type::Histogram: return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} with `extra` (le="...") last; nothing for no labels.
void appendLabels(std::string& out, const Labels& labels, std::string_view extraName = {},
                  std::string_view extraValue = {}) {
  if (labels.empty() && extraName.empty()) return;
  out += '{';
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escapeLabelValue(value);
    out += '"';
  };
  for (const Label& l : labels) one(l.name, l.value);
  if (!extraName.empty()) one(extraName, extraValue);
  out += '}';
}

void appendSample(std::string& out, std::string_view name, std::string_view suffix, const Labels& labels,
                  const std::string& value, std::string_view extraName = {}, std::string_view extraValue = {}) {
  out += name;
  out += suffix;
  appendLabels(out, labels, extraName, extraValue);
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

// ---- Registry ---------------------------------------------------------------------------------

uint64_t Registry::newGroup() {
  std::lock_guard lock(mu_);
  return nextGroup_++;
}

void Registry::add(uint64_t group, std::string name, std::string help, Type type, Labels labels, Source source) {
  if (!validName(name, true)) throw std::logic_error(fmt::format("invalid metric name '{}'", name));
  if (type == Type::Counter && !name.ends_with("_total")) {
    throw std::logic_error(fmt::format("counter '{}' must end in _total", name));
  }
  for (const Label& l : labels) {
    if (!validName(l.name, false) || l.name.starts_with("__") || (type == Type::Histogram && l.name == "le")) {
      throw std::logic_error(fmt::format("invalid label name '{}' of metric '{}'", l.name, name));
    }
  }
  std::lock_guard lock(mu_);
  auto family = std::find_if(families_.begin(), families_.end(), [&](const Family& f) { return f.name == name; });
  if (family == families_.end()) {
    families_.push_back(Family{std::move(name), std::move(help), type, {}});
    family = families_.end() - 1;
  } else if (family->type != type || family->help != help) {
    throw std::logic_error(fmt::format("metric '{}' registered twice with a different type or help", name));
  }
  auto sameLabels = [&](const Child& c) {
    return c.labels.size() == labels.size() &&
           std::equal(c.labels.begin(), c.labels.end(), labels.begin(),
                      [](const Label& a, const Label& b) { return a.name == b.name && a.value == b.value; });
  };
  if (std::any_of(family->children.begin(), family->children.end(), sameLabels)) {
    throw std::logic_error(fmt::format("metric '{}' registered twice with the same labels", family->name));
  }
  family->children.push_back(Child{group, std::move(labels), std::move(source)});
}

void Registry::addCheck(uint64_t group, HealthCheck check) {
  std::lock_guard lock(mu_);
  checks_.push_back(Check{group, std::move(check)});
}

void Registry::remove(uint64_t group) noexcept {
  std::lock_guard lock(mu_);
  for (Family& f : families_) std::erase_if(f.children, [&](const Child& c) { return c.group == group; });
  std::erase_if(families_, [](const Family& f) { return f.children.empty(); });
  std::erase_if(checks_, [&](const Check& c) { return c.group == group; });
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += escapeHelp(f.help);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += typeName(f.type);
    out += '\n';
    for (const Child& c : f.children) {
      std::visit(
          [&](const auto& source) {
            using T = std::decay_t<decltype(source)>;
            if constexpr (std::is_same_v<T, const Counter*>) {
              appendSample(out, f.name, "", c.labels, fmt::format("{}", source->value()));
            } else if constexpr (std::is_same_v<T, const Gauge*>) {
              appendSample(out, f.name, "", c.labels, formatValue(source->value()));
            } else if constexpr (std::is_same_v<T, std::function<uint64_t()>>) {
              appendSample(out, f.name, "", c.labels, fmt::format("{}", source()));
            } else if constexpr (std::is_same_v<T, std::function<double()>>) {
              appendSample(out, f.name, "", c.labels, formatValue(source()));
            } else {
              const Histogram::Snapshot s = source->snapshot();
              const auto& bounds = source->upperBounds();
              for (size_t i = 0; i < bounds.size(); ++i) {
                appendSample(out, f.name, "_bucket", c.labels, fmt::format("{}", s.cumulative[i]), "le",
                             formatValue(bounds[i]));
              }
              appendSample(out, f.name, "_bucket", c.labels, fmt::format("{}", s.count), "le", "+Inf");
              appendSample(out, f.name, "_sum", c.labels, formatValue(s.sum));
              appendSample(out, f.name, "_count", c.labels, fmt::format("{}", s.count));
            }
          },
          c.source);
    }
  }
  return out;
}

std::optional<std::string> Registry::unhealthy() const {
  std::lock_guard lock(mu_);
  for (const Check& c : checks_) {
    if (auto reason = c.check()) return reason;
  }
  return std::nullopt;
}

// ---- Group ------------------------------------------------------------------------------------

Registry::Group& Registry::Group::counter(std::string name, std::string help, const Counter& counter, Labels labels) {
  registry_.add(id_, std::move(name), std::move(help), Type::Counter, std::move(labels), &counter);
  return *this;
}

Registry::Group& Registry::Group::counter(std::string name, std::string help, std::function<uint64_t()> read,
                                          Labels labels) {
  registry_.add(id_, std::move(name), std::move(help), Type::Counter, std::move(labels), std::move(read));
  return *this;
}

Registry::Group& Registry::Group::gauge(std::string name, std::string help, const Gauge& gauge, Labels labels) {
  registry_.add(id_, std::move(name), std::move(help), Type::Gauge, std::move(labels), &gauge);
  return *this;
}

Registry::Group& Registry::Group::gauge(std::string name, std::string help, std::function<double()> read,
                                        Labels labels) {
  registry_.add(id_, std::move(name), std::move(help), Type::Gauge, std::move(labels), std::move(read));
  return *this;
}

Registry::Group& Registry::Group::histogram(std::string name, std::string help, const Histogram& histogram,
                                            Labels labels) {
  registry_.add(id_, std::move(name), std::move(help), Type::Histogram, std::move(labels), &histogram);
  return *this;
}

Registry::Group& Registry::Group::health(HealthCheck check) {
  registry_.addCheck(id_, std::move(check));
  return *this;
}

}  // namespace logship::metrics
