// The --broker URL parser: any input either parses or throws UsageError with a one-line message.
#include <cstdint>
#include <cstdlib>

#include "core/broker_url.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    const logship::BrokerUrl url = logship::parseBrokerUrl(in);
    if (url.host.empty() || url.port == 0) std::abort();
    const std::string shown = url.redacted();
    if (url.hasPassword && shown.find(":***@") == std::string::npos) std::abort();
  } catch (const logship::UsageError& e) {
    if (std::string_view(e.what()).find('\n') != std::string_view::npos) std::abort();
  }
  return 0;
}
