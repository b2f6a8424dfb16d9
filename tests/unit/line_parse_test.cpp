// Reading output lines back (logctl search): parseLine reads what appendFormatted writes, for every
// format and whatever the record holds; timestamps and unescaping.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/escape.hpp"
#include "core/output_format.hpp"
#include "core/timestamp.hpp"

using namespace logship;

namespace {

Record sample() {
  Record r;
  r.timestampUs = 1'764'000'000'123'456;  // 2025-11-24T16:00:00.123456Z
  r.level = Level::Warn;
  r.service = "checkout";
  r.host = "web-1";
  r.message = "payment retry 2/3 for caf\xc3\xa9 \xe2\x98\x95\nFAKE LINE \x1b[2J \\ done";
  r.fields = {{"region", "eu-west-1"}, {"order", "ORD 20931"}};
  return r;
}

std::string lineOf(OutputFormat f, const Record& r) {
  std::string out;
  appendFormatted(out, f, r);
  out.pop_back();  // '\n'
  return out;
}

constexpr OutputFormat kFormats[] = {OutputFormat::Text, OutputFormat::Json, OutputFormat::Raw};

}  // namespace

TEST(Timestamp, ParsesRfc3339) {
  EXPECT_EQ(parseTimestamp("2025-11-24T16:00:00.123456Z"), 1'764'000'000'123'456);
  EXPECT_EQ(parseTimestamp("2025-11-24T16:00:00Z"), 1'764'000'000'000'000);
  EXPECT_EQ(parseTimestamp("2025-11-24t16:00:00z"), 1'764'000'000'000'000);
  EXPECT_EQ(parseTimestamp("2025-11-24 16:00:00Z"), 1'764'000'000'000'000);
  EXPECT_EQ(parseTimestamp("2025-11-24T17:30:00+01:30"), 1'764'000'000'000'000);
  EXPECT_EQ(parseTimestamp("2025-11-24T14:00:00-02:00"), 1'764'000'000'000'000);
  EXPECT_EQ(parseTimestamp("2025-11-24T16:00:00.5Z"), 1'764'000'000'500'000);
  EXPECT_EQ(parseTimestamp("2025-11-24T16:00:00.123456789Z"), 1'764'000'000'123'456);  // truncated
  EXPECT_EQ(parseTimestamp("1970-01-01"), 0);
  EXPECT_EQ(parseTimestamp("2024-02-29T00:00:00Z"), 1'709'164'800'000'000);
  EXPECT_EQ(parseTimestamp("1969-12-31T23:59:59Z"), -1'000'000);
}

TEST(Timestamp, RefusesWhatIsNotRfc3339) {
  for (const char* bad :
       {"", "yesterday", "2025-11-24T16:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-11-31",
        "2025-11-24T24:00:00Z", "2025-11-24T16:60:00Z", "2025-11-24T16:00:00.Z", "2025-11-24T16:00:00Zjunk",
        "2025-11-24T16:00:00+1:00", "25-11-24", "2025/11/24", "2025-11-24T16:00Z", "2025-11-24T16:00:00+24:00"}) {
    EXPECT_FALSE(parseTimestamp(bad)) << bad;
  }
}

TEST(Timestamp, FormatAndParseRoundTrip) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const int64_t us = static_cast<int64_t>(rng() % 253'402'300'799'000'000ULL);  // up to year 9999
    const std::string text = formatTimestamp(us);
    ASSERT_EQ(text.size(), kTimestampWidth);
    EXPECT_EQ(parseTimestamp(text), us) << text;
  }
}

TEST(Timestamp, ByteOrderIsTimeOrder) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const int64_t a = static_cast<int64_t>(rng() % 253'402'300'799'000'000ULL);
    const int64_t b = static_cast<int64_t>(rng() % 253'402'300'799'000'000ULL);
    EXPECT_EQ(a < b, formatTimestamp(a) < formatTimestamp(b));
  }
}

TEST(Unescape, InvertsAppendEscaped) {
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() % 256);
    if (i % 3 == 0) bytes += "\xe2\x80\xae\xc2\x85\xe2\x80\xa8\\x41\\u0041";  // \u escapes, literal backslashes
    std::string back;
    appendUnescaped(back, escaped(bytes));
    EXPECT_EQ(back, bytes);
  }
}

TEST(Unescape, KeepsABackslashThatStartsNoEscape) {
  std::string out;
  appendUnescaped(out, "a\\qb\\x4 \\u12 \\");
  EXPECT_EQ(out, "a\\qb\\x4 \\u12 \\");
}

TEST(ParseLine, TextSplitsEveryPart) {
  const std::string line = lineOf(OutputFormat::Text, sample());
  LineParts p;
  ASSERT_TRUE(parseLine(OutputFormat::Text, line, p));
  EXPECT_EQ(p.timestamp, "2025-11-24T16:00:00.123456Z");
  EXPECT_EQ(p.level, Level::Warn);
  EXPECT_EQ(p.service, "checkout");
  EXPECT_EQ(p.host, "web-1");
  EXPECT_EQ(p.message,
            "payment retry 2/3 for caf\xc3\xa9 \xe2\x98\x95\\nFAKE LINE \\x1b[2J \\\\ done | region=eu-west-1 "
            "order=ORD 20931");
}

TEST(ParseLine, JsonSplitsEveryPart) {
  const std::string line = lineOf(OutputFormat::Json, sample());
  LineParts p;
  ASSERT_TRUE(parseLine(OutputFormat::Json, line, p));
  EXPECT_EQ(p.timestamp, "2025-11-24T16:00:00.123456Z");
  EXPECT_EQ(p.level, Level::Warn);
  EXPECT_EQ(p.service, "checkout");
  EXPECT_EQ(p.host, "web-1");
  EXPECT_EQ(p.message, "payment retry 2/3 for caf\xc3\xa9 \xe2\x98\x95\\nFAKE LINE \\u001b[2J \\\\ done");
  EXPECT_EQ(p.fields, R"({"region":"eu-west-1","order":"ORD 20931"})");
}

TEST(ParseLine, EveryLevelInEveryFormat) {
  for (auto f : {OutputFormat::Text, OutputFormat::Json}) {
    for (Level l : {Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal}) {
      Record r = sample();
      r.level = l;
      LineParts p;
      const std::string line = lineOf(f, r);  // p's views point into it
      ASSERT_TRUE(parseLine(f, line, p));
      EXPECT_EQ(p.level, l) << outputFormatName(f) << " " << levelName(l);
    }
  }
}

TEST(ParseLine, RoundTripsRandomRecordsInEveryFormat) {
  std::mt19937 rng(5);
  // Units that stress the separators and the escaping. "\xff" (invalid UTF-8) only where the
  // format keeps every byte (text and raw escape it; json replaces it with U+FFFD).
  const std::vector<std::string> units = {
      "a", "b",  " ",  "|",  "=",    "@",    "\\",       "\"",           "{",        "}",   ":",
      ",", "\n", "\r", "\t", "\x1b", "\x7f", "\xc2\x85", "\xe2\x80\xae", "\xc3\xa9", "\xff"};
  auto randomText = [&](size_t max, bool validUtf8) {
    std::string s;
    for (size_t n = rng() % (max + 1); n > 0; --n) s += units[rng() % (units.size() - (validUtf8 ? 1 : 0))];
    return s;
  };
  for (int i = 0; i < 3000; ++i) {
    for (auto f : kFormats) {
      const bool json = f == OutputFormat::Json;
      Record r;
      r.timestampUs = static_cast<int64_t>(rng()) * 1'000'003;
      r.level = static_cast<Level>(rng() % 6);
      r.service = randomText(8, json);
      r.host = randomText(8, json);
      r.message = randomText(60, json);
      if (rng() % 2) r.fields = {{"k1", randomText(10, json)}, {"key.two-3_x", randomText(10, json)}};
      if (!json && rng() % 4 == 0) r.fields.push_back({randomText(4, false), randomText(10, false)});
      const std::string line = lineOf(f, r);
      LineParts p;
      ASSERT_TRUE(parseLine(f, line, p)) << outputFormatName(f) << ": " << line;
      const Record back = recordFromLine(f, p);
      if (f == OutputFormat::Raw) {
        EXPECT_EQ(back.message, r.message);
        continue;
      }
      EXPECT_EQ(back.timestampUs, r.timestampUs);
      EXPECT_EQ(back.level, r.level);
      if (json) {
        EXPECT_EQ(p.service, encodeForLine(f, r.service)) << line;
        EXPECT_EQ(back.service, r.service);  // json is unambiguous: everything comes back
        EXPECT_EQ(back.host, r.host);
        EXPECT_EQ(back.message, r.message);
        EXPECT_EQ(back.fields, r.fields);
      } else {
        // text is unambiguous too: every part comes back, whatever separators it holds
        EXPECT_EQ(p.service, encodeForLine(f, r.service)) << line;
        EXPECT_EQ(back.service, r.service) << line;
        EXPECT_EQ(back.host, r.host) << line;
        EXPECT_EQ(back.message, r.message) << line;
        EXPECT_EQ(back.fields, r.fields) << line;
      }
    }
  }
}

TEST(ParseLine, TextFieldsAreSplitOffTheMessage) {
  Record r = sample();
  r.message = "a | b=c looks like a field";
  r.fields = {{"k", "v w"}, {"x", "y=z"}};
  LineParts p;
  const std::string line = lineOf(OutputFormat::Text, r);
  ASSERT_TRUE(parseLine(OutputFormat::Text, line, p));
  const Record back = recordFromLine(OutputFormat::Text, p);
  EXPECT_EQ(back.message, r.message);
  EXPECT_EQ(back.fields, r.fields);
  r.fields.clear();
  r.message = "no fields | here";
  const std::string second = lineOf(OutputFormat::Text, r);  // p's views point into it
  ASSERT_TRUE(parseLine(OutputFormat::Text, second, p));
  EXPECT_EQ(recordFromLine(OutputFormat::Text, p).message, "no fields | here");
  EXPECT_TRUE(recordFromLine(OutputFormat::Text, p).fields.empty());
}

TEST(ParseLine, RefusesLinesOfOtherFormatsAndDamagedLines) {
  const std::string text = lineOf(OutputFormat::Text, sample());
  const std::string json = lineOf(OutputFormat::Json, sample());
  LineParts p;
  EXPECT_FALSE(parseLine(OutputFormat::Text, json, p));
  EXPECT_FALSE(parseLine(OutputFormat::Json, text, p));
  EXPECT_FALSE(parseLine(OutputFormat::Text, "", p));
  EXPECT_FALSE(parseLine(OutputFormat::Json, "", p));
  EXPECT_FALSE(parseLine(OutputFormat::Text, "hello world", p));
  EXPECT_FALSE(parseLine(OutputFormat::Text, text.substr(0, 40), p) && p.host == "web-1");  // cut short
  std::string badLevel = text;
  badLevel.replace(28, 5, "NOTE ");
  EXPECT_FALSE(parseLine(OutputFormat::Text, badLevel, p));
  std::string badTime = text;
  badTime[5] = 'x';
  EXPECT_FALSE(parseLine(OutputFormat::Text, badTime, p));
  std::string noAt = "2025-11-24T16:00:00.123456Z INFO  nohost message";
  EXPECT_FALSE(parseLine(OutputFormat::Text, noAt, p));
  EXPECT_FALSE(parseLine(OutputFormat::Json, json.substr(0, json.size() - 1), p));  // no closing brace
  EXPECT_FALSE(parseLine(OutputFormat::Json, json + " ", p));
  std::string badJsonLevel = json;
  badJsonLevel.replace(badJsonLevel.find("\"warn\""), 6, "\"WARN\"");
  EXPECT_FALSE(parseLine(OutputFormat::Json, badJsonLevel, p));
  EXPECT_FALSE(parseLine(OutputFormat::Json, R"({"ts":"2025-11-24T16:00:00.123456Z","level":"info"})", p));
  EXPECT_TRUE(parseLine(OutputFormat::Raw, "", p));  // an empty message is a raw line
  EXPECT_TRUE(parseLine(OutputFormat::Raw, text, p));
}

TEST(ParseLine, EmptyNamesAndMessageStillParse) {
  Record r;
  r.timestampUs = 0;
  r.service = "";
  r.host = "";
  r.message = "";
  for (auto f : kFormats) {
    LineParts p;
    const std::string line = lineOf(f, r);  // p's views point into it
    ASSERT_TRUE(parseLine(f, line, p)) << outputFormatName(f);
    EXPECT_TRUE(p.message.empty());
  }
}

TEST(EncodeForLine, MatchesWhatTheFormatterWrites) {
  Record r = sample();
  r.service = "svc \"quoted\" \\ caf\xc3\xa9 \xe2\x80\xae \x01";
  for (auto f : {OutputFormat::Text, OutputFormat::Json}) {
    LineParts p;
    const std::string line = lineOf(f, r);  // p's views point into it (ASan found a temporary here)
    ASSERT_TRUE(parseLine(f, line, p));
    EXPECT_EQ(p.service, encodeForLine(f, r.service)) << outputFormatName(f);
  }
}

namespace {

// Formats `r` as text, reads the line back and checks that every part came back as written.
void expectTextRoundTrip(const Record& r) {
  const std::string line = lineOf(OutputFormat::Text, r);
  ASSERT_EQ(line.find_first_of("\n\r"), std::string::npos);
  LineParts p;
  ASSERT_TRUE(parseLine(OutputFormat::Text, line, p)) << line;
  EXPECT_EQ(p.service, encodeForLine(OutputFormat::Text, r.service)) << line;
  EXPECT_EQ(p.host, encodeForLine(OutputFormat::Text, r.host)) << line;
  const Record back = recordFromLine(OutputFormat::Text, p);
  EXPECT_EQ(back.timestampUs, r.timestampUs) << line;
  EXPECT_EQ(back.level, r.level) << line;
  EXPECT_EQ(back.service, r.service) << line;
  EXPECT_EQ(back.host, r.host) << line;
  EXPECT_EQ(back.message, r.message) << line;
  EXPECT_EQ(back.fields, r.fields) << line;
}

}  // namespace

// Issue 14: every byte value, alone and between the separators, in every part of a text line
// (service, host, message, a field key, a field value) reads back as exactly what was written.
TEST(ParseLine, TextRoundTripsEveryByteInEveryPart) {
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    for (const std::string& v : {byte, "a" + byte + "b", " " + byte + " x=y | k=v", byte + " | " + byte + "=" + byte,
                                 "x@" + byte + " " + byte + "@y", std::string(" | ") + byte}) {
      for (int part = 0; part < 6; ++part) {
        Record r = sample();
        switch (part) {
          case 0: r.service = v; break;
          case 1: r.host = v; break;
          case 2:
            r.message = v;
            r.fields.clear();
            break;
          case 3: r.message = v; break;
          case 4: r.fields.push_back({v, "w"}); break;
          default: r.fields.insert(r.fields.begin(), {"k", v}); break;
        }
        SCOPED_TRACE(testing::Message() << "byte " << b << " part " << part);
        expectTextRoundTrip(r);
      }
    }
  }
}

// The issue's examples: names with '@' and ' ', an empty service, a message that looks like fields.
TEST(ParseLine, TextCannotBeForged) {
  Record r = sample();
  r.service = "a@b";
  r.host = "my host";
  r.fields.clear();
  r.message = "login failed | user=admin";
  expectTextRoundTrip(r);
  r.service = "";
  r.host = "b@h1";
  expectTextRoundTrip(r);
  r.fields = {{"", ""}, {"a b", "c=d e"}, {"x=y", " | "}, {"|", "= "}};
  expectTextRoundTrip(r);
}

// Lines written before separators were escaped still read as they did.
TEST(ParseLine, TextReadsLinesOfEarlierVersions) {
  LineParts p;
  const std::string old =
      "2025-11-24T16:00:00.123456Z WARN  checkout@web-1 GET /a | 200 | region=eu-west-1 order=ORD 20931";
  ASSERT_TRUE(parseLine(OutputFormat::Text, old, p));
  const Record back = recordFromLine(OutputFormat::Text, p);
  EXPECT_EQ(back.service, "checkout");
  EXPECT_EQ(back.host, "web-1");
  EXPECT_EQ(back.message, "GET /a | 200");
  EXPECT_EQ(back.fields, (std::vector<Field>{{"region", "eu-west-1"}, {"order", "ORD 20931"}}));
}
