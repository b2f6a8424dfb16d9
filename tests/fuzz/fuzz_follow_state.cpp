// The follow state file's parser (log_producer --follow --state-file): any input either parses, and
// then writing the entries and reading them again gives the same entries, or throws Error with a
// one-line message that names the file and a line.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "producer/input/follow_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    const auto entries = logship::parseFollowState(in, "fuzz.state");
    for (const auto& e : entries) {
      if (e.fingerprint.bytes > logship::Fingerprint::kBytes) std::abort();
    }
    if (logship::parseFollowState(logship::formatFollowState(entries), "again") != entries) std::abort();
  } catch (const logship::Error& e) {
    const std::string_view what = e.what();
    if (what.find('\n') != std::string_view::npos || !what.starts_with("state file fuzz.state:")) std::abort();
  }
  return 0;
}
