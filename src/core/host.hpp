#pragma once
#include <string>

namespace logship {

// This machine's host name (gethostname), or "unknown" if it cannot be read: what the aggregators
// write in their Redis leases and output locks and what the brokers are told in connection names.
std::string localHostName();

}  // namespace logship
