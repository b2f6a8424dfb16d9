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

namespace {
Message batchOf(const std::vector<std::string>& texts, const std::vector<int64_t>& ts, const std::string& firstId) {
  Record r = sample();
  r.message = texts[0];
  r.timestampUs = ts[0];
  r.id = firstId;
  BatchBuilder b;
  b.start(r);
  for (size_t i = 1; i < texts.size(); ++i) b.add(texts[i], ts[i]);
  EXPECT_EQ(b.records(), texts.size());
  Message m;
  b.finish(m);
  return m;
}
const Header* header(const Message& m, std::string_view key) {
  for (const auto& h : m.headers) {
    if (h.key == key) return &h;
  }
  return nullptr;
}
}  // namespace

TEST(RecordCodec, ABatchIsLinesWithSharedMetadataAndConsecutiveIds) {
  const Message m = batchOf({"alpha", "", "gamma \xff"}, {1000, 1000, 1250}, "abc-def-41");
  EXPECT_EQ(m.body, "alpha\n\ngamma \xff");  // a plain consumer writes one line per record
  ASSERT_NE(header(m, wire::kBatch), nullptr);
  EXPECT_EQ(header(m, wire::kBatch)->value, "3");
  EXPECT_EQ(header(m, wire::kTsDeltas)->value, "0,250");
  EXPECT_EQ(recordCount(m), 3u);
  std::vector<Record> out;
  std::string error;
  ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, out, error)) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].message, "alpha");
  EXPECT_EQ(out[1].message, "");
  EXPECT_EQ(out[2].message, "gamma \xff");
  EXPECT_EQ(out[0].id, "abc-def-41");
  EXPECT_EQ(out[2].id, "abc-def-43");
  EXPECT_EQ(out[1].timestampUs, 1000);
  EXPECT_EQ(out[2].timestampUs, 1250);
  for (const auto& r : out) {
    EXPECT_EQ(r.service, "billing");
    EXPECT_EQ(r.level, Level::Error);
    EXPECT_EQ(r.fields, sample().fields);
  }
}

TEST(RecordCodec, ABatchOfOneIsTheSingleRecordFormat) {
  const Message m = batchOf({"only"}, {5}, "x-1");
  Record r = sample();
  r.message = "only";
  r.timestampUs = 5;
  r.id = "x-1";
  Message single;
  encodeRecord(r, single);
  EXPECT_EQ(m.body, single.body);
  ASSERT_EQ(m.headers.size(), single.headers.size());
  EXPECT_EQ(header(m, wire::kBatch), nullptr);
  EXPECT_EQ(recordCount(m), 1u);
}

TEST(RecordCodec, EqualTimestampsNeedNoDeltas) {
  const Message m = batchOf({"a", "b"}, {7, 7}, "x-1");
  EXPECT_EQ(header(m, wire::kTsDeltas), nullptr);
  std::vector<Record> out;
  std::string error;
  ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, out, error)) << error;
  EXPECT_EQ(out[1].timestampUs, 7);
}

TEST(RecordCodec, MalformedBatchesAreRefusedWithAReason) {
  const Message good = batchOf({"a", "b", "c"}, {1, 2, 3}, "p-1");
  auto reason = [&](auto edit) {
    Message m = good;
    edit(m);
    std::vector<Record> out;
    std::string error;
    EXPECT_FALSE(decodeRecords(m.body, m.headers, 0, out, error));
    EXPECT_TRUE(out.empty());
    return error;
  };
  auto set = [](Message& m, std::string_view key, std::string value) {
    for (auto& h : m.headers) {
      if (h.key == key) h.value = std::move(value);
    }
  };
  EXPECT_EQ(reason([&](Message& m) { m.body += "\nd"; }), "batch of 3 records holds 4 lines");
  EXPECT_EQ(reason([&](Message& m) { set(m, wire::kBatch, "zero"); }),
            "header logship-batch must be a record count from 1 to 1000000, got 'zero'");
  EXPECT_EQ(reason([&](Message& m) { set(m, wire::kBatch, "0"); }),
            "header logship-batch must be a record count from 1 to 1000000, got '0'");
  EXPECT_EQ(reason([&](Message& m) { set(m, wire::kId, "no-number-here"); }),
            "header logship-id of a batch must end in -<number>, got 'no-number-here'");
  EXPECT_EQ(reason([&](Message& m) { set(m, wire::kTsDeltas, "1"); }),
            "header logship-ts-deltas must hold 2 comma-separated numbers");
  EXPECT_EQ(reason([&](Message& m) { set(m, wire::kTsDeltas, "1,-2"); }),
            "header logship-ts-deltas holds a bad number '-2'");
  // Without logship-version the batch header means nothing: a plain message, one record.
  Message plain = good;
  std::erase_if(plain.headers, [](const Header& h) { return h.key == wire::kVersion; });
  std::vector<Record> out;
  std::string error;
  ASSERT_TRUE(decodeRecords(plain.body, plain.headers, 0, out, error));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message, "a\nb\nc");
}

TEST(RecordCodec, DecodedMessageViewsAreTheRecordsOfDecodeRecords) {
  DecodedMessage decoded;
  std::string error;
  for (const Message& m : {batchOf({"alpha", "", "gamma \xff"}, {1000, 1000, 1250}, "abc-def-41"),
                           batchOf({"one"}, {5}, "x-1"), batchOf({"a", "b"}, {1, 2}, "")}) {
    std::vector<Record> records;
    ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, records, error)) << error;
    ASSERT_TRUE(decoded.decode(m.body, m.headers, 0, error)) << error;
    ASSERT_EQ(decoded.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(decoded.message(i), records[i].message);
      EXPECT_EQ(decoded.timestampUs(i), records[i].timestampUs);
      std::string id;
      appendRecordId(id, decoded.id(i));
      EXPECT_EQ(id, records[i].id);
      EXPECT_EQ(decoded.record(i), records[i]);
    }
  }
  // A plain message: its id (any text) is kept whole.
  Message plain;
  plain.body = "hello";
  EXPECT_TRUE(decoded.decode(plain.body, plain.headers, 9, error));
  EXPECT_EQ(decoded.size(), 1u);
  EXPECT_TRUE(decoded.id(0).empty());
  EXPECT_EQ(decoded.timestampUs(0), 9);
  // A failed decode leaves nothing behind.
  Message bad = batchOf({"a", "b"}, {1, 2}, "p-1");
  bad.body += "\nc";
  EXPECT_FALSE(decoded.decode(bad.body, bad.headers, 0, error));
  EXPECT_EQ(decoded.size(), 0u);
}

TEST(RecordCodec, RecordIdsSplitIntoPrefixAndNumber) {
  RecordIdRef id = recordIdRef("0123abcd0123abcd-42");
  EXPECT_EQ(id.prefix, "0123abcd0123abcd");
  EXPECT_EQ(id.n, 42u);
  EXPECT_TRUE(id.raw.empty());
  for (std::string_view raw : {"plain", "x-", "-5", "x-05", "x-1a", "x-99999999999999999999"}) {
    id = recordIdRef(raw);
    EXPECT_TRUE(id.prefix.empty()) << raw;
    EXPECT_EQ(id.raw, raw);
    std::string text;
    appendRecordId(text, id);
    EXPECT_EQ(text, raw);
  }
  EXPECT_TRUE(recordIdRef("").empty());
  // A batch's first id must split: "-05" would make the next ids ambiguous.
  Message m = batchOf({"a", "b"}, {1, 2}, "p-05");
  std::vector<Record> out;
  std::string error;
  EXPECT_FALSE(decodeRecords(m.body, m.headers, 0, out, error));
  EXPECT_EQ(error, "header logship-id of a batch must end in -<number>, got 'p-05'");
}
