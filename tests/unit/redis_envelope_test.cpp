#include <gtest/gtest.h>

#include "broker/redis/envelope.hpp"
#include "broker/redis/keys.hpp"
#include "core/message.hpp"

namespace logship::redis {
namespace {

struct Decoded {
  bool ok;
  std::string body;
  std::vector<Header> headers;
  std::string error;
};

Decoded decode(std::string_view value) {
  Decoded d;
  d.ok = decodeEnvelope(value, d.body, d.headers, d.error);
  return d;
}

TEST(RedisEnvelope, PlainTextIsARecordAsIs) {
  for (std::string_view text : {"Log Entry 1: This is a sample log.", "", "LS1 looks like magic but is not",
                                "\xc3\xa9t\xc3\xa9 \xe2\x80\xa8 emoji \xf0\x9f\x98\x80", "with\nnewline"}) {
    const auto d = decode(text);
    ASSERT_TRUE(d.ok) << d.error;
    EXPECT_EQ(d.body, text);
    EXPECT_TRUE(d.headers.empty());
  }
}

TEST(RedisEnvelope, NoValidUtf8TextStartsWithTheMagic) {
  // 0xFF never occurs in UTF-8: the magic's first byte cannot begin any text.
  EXPECT_EQ(static_cast<unsigned char>(kEnvelopeMagic[0]), 0xFF);
}

TEST(RedisEnvelope, RecordRoundTrip) {
  Record r;
  r.timestampUs = 1700000000123456;
  r.level = Level::Error;
  r.service = "web api";
  r.host = "h1";
  r.message = "disk full\n% done = 100 + more";
  r.fields = {{"user", "a=b c"}, {"req%id", "\x01"}};
  Message m;
  encodeRecord(r, m);
  std::string value;
  encodeEnvelope(m, value);
  ASSERT_TRUE(value.starts_with("\xFFLS1 "));
  EXPECT_TRUE(value.ends_with("\ndisk full\n% done = 100 + more"));  // the body follows the first LF as is
  EXPECT_EQ(value.find('\n'), value.find("\ndisk full"));            // nothing in the header line breaks it
  const auto d = decode(value);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.body, m.body);
  ASSERT_EQ(d.headers.size(), m.headers.size());
  for (size_t i = 0; i < m.headers.size(); ++i) {
    EXPECT_EQ(d.headers[i].key, m.headers[i].key);
    EXPECT_EQ(d.headers[i].value, m.headers[i].value);
  }
  Record back;
  std::string error;
  ASSERT_TRUE(decodeMessage(d.body, d.headers, 0, back, error)) << error;
  EXPECT_EQ(back.timestampUs, r.timestampUs);
  EXPECT_EQ(back.level, r.level);
  EXPECT_EQ(back.service, r.service);
  EXPECT_EQ(back.fields, r.fields);
}

TEST(RedisEnvelope, CompactAndReadable) {
  Message m{"hello", {{"logship-version", "1"}, {"logship-level", "info"}, {"other", "x y"}}};
  std::string value;
  encodeEnvelope(m, value);
  EXPECT_EQ(value, "\xFFLS1 version=1 level=info +other=x%20y\nhello");
}

TEST(RedisEnvelope, TheBarePrefixAsAKeySurvivesARoundTrip) {
  // Found by fuzz_redis_envelope: "logship-" alone must not be shortened to an empty key.
  std::string value;
  encodeEnvelope(Message{"b", {{"logship-", "1"}}}, value);
  EXPECT_EQ(value, "\xFFLS1 +logship-=1\nb");
  const auto d = decode(value);
  ASSERT_TRUE(d.ok) << d.error;
  ASSERT_EQ(d.headers.size(), 1u);
  EXPECT_EQ(d.headers[0].key, "logship-");
}

TEST(RedisEnvelope, BareBodyWithoutHeaders) {
  std::string value;
  encodeEnvelope(Message{"just text", {}}, value);
  EXPECT_EQ(value, "just text");
  // A header-less body that would look like an envelope is wrapped, so it comes back intact.
  encodeEnvelope(Message{"\xFFLS1 a=b\nx", {}}, value);
  const auto d = decode(value);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.body, "\xFFLS1 a=b\nx");
  EXPECT_TRUE(d.headers.empty());
}

TEST(RedisEnvelope, MalformedOnesAreRejectedWithAReason) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"\xFFLS1 a=b", "no line feed"},
      {"\xFFLS2\nx", "unsupported Redis envelope version '2'"},
      {"\xFFLS\nx", "unsupported Redis envelope version ''"},
      {"\xFFLS1 novalue\nx", "not KEY=VALUE"},
      {"\xFFLS1 =v\nx", "not KEY=VALUE"},
      {"\xFFLS1 a=%4\nx", "truncated %-escape"},
      {"\xFFLS1 a=%zz\nx", "bad %-escape"},
      {"\xFFLS1 a=1  b=2\nx", "not KEY=VALUE"},
  };
  for (const auto& [value, reason] : cases) {
    const auto d = decode(value);
    EXPECT_FALSE(d.ok) << value;
    EXPECT_NE(d.error.find(reason), std::string::npos) << d.error;
    EXPECT_EQ(d.error.find('\n'), std::string::npos) << d.error;
  }
}

TEST(RedisKeys, NamesAndScanPattern) {
  const QueueKeys k("logs_queue");
  EXPECT_EQ(k.registry, "logs_queue.consumers");
  EXPECT_EQ(k.processing("h:/var/log/a.txt"), "logs_queue.processing.h:/var/log/a.txt");
  EXPECT_EQ(k.lease("id"), "logs_queue.lease.id");
  EXPECT_EQ(QueueKeys("a*b[c]").processingPattern(), "a\\*b\\[c\\].processing.*");
}

}  // namespace
}  // namespace logship::redis
