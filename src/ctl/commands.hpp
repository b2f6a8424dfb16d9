#pragma once
#include <string>

#include "broker/options.hpp"

namespace logship::ctl {

// Each returns the process exit code and prints its result on stdout.
int setup(const BrokerOptions& broker, const std::string& queue);
int status(const BrokerOptions& broker, const std::string& queue, bool json);
int recover(const BrokerOptions& broker, const std::string& queue);

}  // namespace logship::ctl
