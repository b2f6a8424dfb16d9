#pragma once
// File helpers shared by the unit tests of the output sink and the id journal.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "aggregator/file_sink.hpp"

namespace logship::testing {

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Appends as another writer would (creating the file if needed).
inline void appendToFile(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

// Runs `f` with every file of this process limited to `limit` bytes (a write is cut at that byte;
// SIGXFSZ ignored). Only `f` runs under the limit: gtest's own output (a file, when redirected)
// must not be cut. Returns the errno of the SinkError `f` threw (-1 without one), 0 if none.
inline int underFileSizeLimit(rlim_t limit, const std::function<void()>& f) {
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit lowered = old;
  lowered.rlim_cur = limit;
  ::setrlimit(RLIMIT_FSIZE, &lowered);
  int code = 0;
  try {
    f();
  } catch (const SinkError& e) {
    code = e.code() != 0 ? e.code() : -1;
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, oldHandler);
  return code;
}

}  // namespace logship::testing
