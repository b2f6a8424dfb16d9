#include <gtest/gtest.h>

#include "core/message.hpp"

using namespace logship;

namespace {
Record sample() {
  Record r;
  r.timestampUs = 1'700'000'000'000'001;
  r.level = Level::Error;
  r.service = "billing";
  r.host = "db-7";
  r.message = "payment failed\nretrying";
  r.fields = {{"order", "42"}, {"user", "bob"}};
  return r;
}
}  // namespace

TEST(RecordCodec, RoundTrip) {
  Message m;
  encodeRecord(sample(), m);
  EXPECT_EQ(m.body, "payment failed\nretrying");  // the body is the message text, untouched
  Record back;
  std::string error;
  ASSERT_TRUE(decodeMessage(m.body, m.headers, 0, back, error)) << error;
  EXPECT_EQ(back, sample());
}

TEST(RecordCodec, PlainMessageIsOneRecordWithDefaults) {
  Record r;
  std::string error;
  const std::vector<Header> foreign{{"x-trace-id", "abc"}, {"count", "an integer (5)", false}};
  ASSERT_TRUE(decodeMessage("Hello World!", foreign, 123, r, error));
  EXPECT_EQ(r.message, "Hello World!");
  EXPECT_EQ(r.timestampUs, 123);
  EXPECT_EQ(r.level, Level::Info);
  EXPECT_EQ(r.service, "-");
  EXPECT_EQ(r.host, "-");
  EXPECT_TRUE(r.fields.empty());
}

TEST(RecordCodec, RejectsBrokenEnvelopes) {
  Record r;
  std::string error;
  const std::vector<std::pair<std::vector<Header>, std::string>> cases = {
      {{{"logship-version", "2"}}, "version"},
      {{{"logship-version", "an integer (1)", false}}, "version"},
      {{{"logship-version", "1"}, {"logship-level", "an integer (5)", false}}, "logship-level must be a string"},
      {{{"logship-version", "1"}, {"logship-level", "loud"}}, "unknown level"},
      {{{"logship-version", "1"}, {"logship-ts", "abc"}}, "not an integer"},
      {{{"logship-version", "1"}, {"logship-ts", "12x"}}, "not an integer"},
      {{{"logship-version", "1"}, {"logship-ts", ""}}, "not an integer"},
  };
  for (const auto& [headers, expected] : cases) {
    error.clear();
    EXPECT_FALSE(decodeMessage("m", headers, 0, r, error)) << expected;
    EXPECT_NE(error.find(expected), std::string::npos) << "error was: " << error;
  }
}

TEST(RecordCodec, ErrorMessagesAreEscaped) {
  Record r;
  std::string error;
  const std::vector<Header> headers{{"logship-version", "1"}, {"logship-level", "x\ny"}};
  ASSERT_FALSE(decodeMessage("m", headers, 0, r, error));
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(RecordCodec, LevelsParseCaseInsensitively) {
  EXPECT_EQ(parseLevel("WARNING"), Level::Warn);
  EXPECT_EQ(parseLevel("Err"), Level::Error);
  EXPECT_EQ(parseLevel("critical"), Level::Fatal);
  EXPECT_FALSE(parseLevel(""));
  EXPECT_FALSE(parseLevel("verbose"));
  for (auto l : {Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal}) {
    EXPECT_EQ(parseLevel(levelName(l)), l);
  }
}
