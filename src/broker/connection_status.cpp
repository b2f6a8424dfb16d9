#include "broker/connection_status.hpp"

#include <fmt/format.h>

namespace logship {

std::optional<std::string> ConnectionStatus::problem() const {
  if (connected()) return std::nullopt;
  const std::string error = lastError();
  if (error.empty()) return std::string("not connected to the broker yet (connecting)");
  return fmt::format("not connected to the broker: {}", error);
}

void registerConnectionMetrics(metrics::Registry::Group& group, const std::string& prefix,
                               const ConnectionStatus& status) {
  group
      .gauge(prefix + "_broker_connected", "1 while connected to the broker, 0 while connecting or reconnecting",
             [&status] { return status.connected() ? 1.0 : 0.0; })
      .counter(prefix + "_broker_reconnects_total", "Connections to the broker opened again after one broke",
               [&status] { return status.reconnects(); })
      .counter(prefix + "_errors_total", kErrorsTotalHelp, [&status] { return status.failures(); },
               {{"kind", "broker"}});
}

}  // namespace logship
