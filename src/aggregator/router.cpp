#include "aggregator/router.hpp"

#include <stdexcept>

namespace logship {

Router::Router(FileSink& defaultOutput, bool unroutedOnly) : unroutedOnly_(unroutedOnly) {
  outputs_.emplace_back().sink = &defaultOutput;
}

void Router::addRoute(RouteRule rule, FileSink& sink) {
  if (routes() >= kMaxRoutes) throw std::logic_error("Router::addRoute: too many routes");
  Output& o = outputs_.emplace_back();
  o.sink = &sink;
  o.rule = std::move(rule);
}

std::string Router::routeLabel(size_t i) const {
  return outputs_[i].rule ? outputs_[i].rule->conditionsText() : std::string("default");
}

void Router::maintain() noexcept {
  if (reopenRequested_ != nullptr && reopenRequested_->exchange(false)) {
    for (Output& o : outputs_) o.reopenDue = true;
  }
  for (Output& o : outputs_) {
    if (o.maintenance == nullptr) {
      o.reopenDue = false;
      continue;
    }
    if (!o.sink->atLineBoundary()) continue;
    const bool reopen = o.reopenDue;
    o.reopenDue = false;
    o.maintenance->betweenCommits(o.sink->pendingBytes(), reopen);
  }
}

}  // namespace logship
