// The producer spool's reader (producer/spool.hpp) on arbitrary segment and cursor bytes: never
// crashes, throws only logship::Error, and every record it hands out is one it could decode; after
// taking and releasing everything, the spool takes a new record and finds exactly it after a restart.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "producer/spool.hpp"

namespace {

std::string& dirName() {
  static std::string d;
  return d;
}

std::string dir() {
  std::string& d = dirName();
  if (d.empty()) {
    char tmpl[] = "/tmp/fuzz-spool-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) std::abort();
    spdlog::set_level(spdlog::level::off);
    d = made;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(dirName(), ec);
    });
  }
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const std::string d = dir();
  for (const auto& e : fs::directory_iterator(d)) fs::remove(e.path());
  // The first 16 bytes are the cursor (when there are that many), the rest one segment.
  const size_t cursorBytes = size >= 16 ? 16 : 0;
  std::ofstream(d + "/cursor", std::ios::binary)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(cursorBytes));
  std::ofstream(d + "/00000000000000000001.seg", std::ios::binary)
      .write(reinterpret_cast<const char*>(data + cursorBytes), static_cast<std::streamsize>(size - cursorBytes));
  logship::SpoolLimits limits{1 << 20, true};
  try {
    {
      logship::DiskSpool s(d, limits);
      std::vector<logship::Message> got;
      const size_t held = s.held();
      const size_t n = s.take(got, 1'000'000, std::chrono::milliseconds(0));
      if (n != held || got.size() != n) std::abort();
      s.release(n, n);
      logship::Message m;
      m.body = "after";
      if (s.append(m) != logship::Spool::Appended::Stored) std::abort();
    }
    logship::DiskSpool s(d, limits);
    std::vector<logship::Message> got;
    if (s.take(got, 10, std::chrono::milliseconds(0)) != 1 || got[0].body != "after") std::abort();
  } catch (const logship::Error&) {
    // a clear error is fine; anything else escapes and is a finding
  }
  return 0;
}
