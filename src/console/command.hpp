// logctl serve: the command that starts the web console (docs/CONSOLE.md). Its flags are
// ctl::ServeRequest; the server is console/server.hpp.
#pragma once

#include <string>

#include "broker/options.hpp"
#include "ctl/commands.hpp"

namespace logship::console {

// Serves the web console until broker.stopRequested is set; logs "serving the console on
// http://HOST:PORT/" once it listens. Exit 0. Bad arguments (a non-loopback --listen without
// --token-file among them) throw UsageError before anything is bound.
int serve(const BrokerOptions& broker, const std::string& queue, const ctl::ServeRequest& request);

}  // namespace logship::console
