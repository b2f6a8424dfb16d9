// core/repeated_lines: a burst of identical log lines becomes the line and one line with the count.
#include "core/repeated_lines.hpp"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

namespace logship {
namespace {

// Captures what spdlog's default logger logs while it lives.
class CapturedLog {
 public:
  CapturedLog()
      : previous_(spdlog::default_logger()), sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

TEST(RepeatedLines, ABurstOfIdenticalLinesIsLoggedOnceWithACount) {
  CapturedLog log;
  RepeatedLines lines;
  for (int i = 0; i < 50; ++i) lines.log(RepeatedLines::Level::Warn, "lease expired");
  lines.flush();
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(trimmed(got[0]), "warning lease expired");
  EXPECT_TRUE(trimmed(got[1]).starts_with("warning lease expired (and 49 more times within ")) << got[1];
}

TEST(RepeatedLines, DifferentLinesAreEachLoggedAndEndTheCountBeforeThem) {
  CapturedLog log;
  RepeatedLines lines;
  lines.log(RepeatedLines::Level::Warn, "a");
  lines.log(RepeatedLines::Level::Warn, "a");
  lines.log(RepeatedLines::Level::Error, "b");
  lines.flush();  // nothing left to tell
  std::vector<std::string> got;
  for (const auto& l : log.lines()) got.push_back(trimmed(l));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "warning a");
  EXPECT_TRUE(got[1].starts_with("warning a (and 1 more time within ")) << got[1];
  EXPECT_EQ(got[2], "error b");
}

TEST(RepeatedLines, AfterTheWindowTheSameLineIsLoggedAgain) {
  CapturedLog log;
  RepeatedLines lines(std::chrono::milliseconds(0));  // every line is outside the window of the one before
  lines.log(RepeatedLines::Level::Info, "x");
  lines.log(RepeatedLines::Level::Info, "x");
  EXPECT_EQ(log.lines().size(), 2u);
}

}  // namespace
}  // namespace logship
