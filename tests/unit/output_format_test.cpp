#include "core/output_format.hpp"
#include "core/record.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace logship;

namespace {
Record sample() {
  Record r;
  r.timestampUs = 1'764'000'000'123'456;  // 2025-11-24T16:00:00.123456Z
  r.level = Level::Warn;
  r.service = "web";
  r.host = "host1";
  r.message = "disk almost full";
  return r;
}
std::string format(OutputFormat f, const Record& r) {
  std::string out;
  appendFormatted(out, f, r);
  return out;
}
}  // namespace

// One field-key rule for --field, ClientOptions::fields and the keys inputs bring (core/record.hpp):
// ASCII only, whatever the locale says is a letter.
TEST(FieldKey, OneRuleAsciiLettersDigitsAndUnderscoreDotDash) {
  EXPECT_EQ(fieldKeyProblem("region"), "");
  EXPECT_EQ(fieldKeyProblem("k8s.pod-name_2"), "");
  EXPECT_EQ(fieldKeyProblem(std::string(128, 'k')), "");
  EXPECT_EQ(fieldKeyProblem(""), "the key is empty");
  EXPECT_EQ(fieldKeyProblem(std::string(129, 'k')), "the key is longer than 128 bytes");
  for (const char* bad : {"bad key", "a=b", "\xe9t\xe9", "caf\xc3\xa9", "tab\t", "nul\0x"}) {
    const std::string key = std::string_view(bad) == "nul\0x" ? std::string("nul\0x", 5) : std::string(bad);
    EXPECT_NE(fieldKeyProblem(key), "") << key;
  }
  for (int c = 0; c < 256; ++c) {
    const bool ascii =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    EXPECT_EQ(fieldKeyByte(static_cast<unsigned char>(c)), ascii) << c;
  }
}

TEST(OutputFormat, ParsesNames) {
  EXPECT_EQ(parseOutputFormat("text"), OutputFormat::Text);
  EXPECT_EQ(parseOutputFormat("raw"), OutputFormat::Raw);
  EXPECT_EQ(parseOutputFormat("json"), OutputFormat::Json);
  EXPECT_FALSE(parseOutputFormat("xml"));
  EXPECT_FALSE(parseOutputFormat("TEXT"));
}

TEST(OutputFormat, Text) {
  EXPECT_EQ(format(OutputFormat::Text, sample()), "2025-11-24T16:00:00.123456Z WARN  web@host1 disk almost full\n");
  Record r = sample();
  r.fields = {{"env", "prod"}, {"disk", "/dev/sda1"}};
  EXPECT_EQ(format(OutputFormat::Text, r),
            "2025-11-24T16:00:00.123456Z WARN  web@host1 disk almost full | env=prod disk=/dev/sda1\n");
}

TEST(OutputFormat, RawIsTheMessageOnly) { EXPECT_EQ(format(OutputFormat::Raw, sample()), "disk almost full\n"); }

TEST(OutputFormat, EveryFormatIsOneLineWhateverTheRecordHolds) {
  Record r = sample();
  r.message = "line1\nline2\r\n\x1b[2J\xff\xc2\x85";
  r.service = "we\nb";
  r.host = "h\r";
  r.fields = {{"k\n", "v\n"}};
  for (auto f : {OutputFormat::Text, OutputFormat::Raw, OutputFormat::Json}) {
    const std::string line = format(f, r);
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << outputFormatName(f);
    EXPECT_EQ(line.find('\r'), std::string::npos) << outputFormatName(f);
  }
}

TEST(OutputFormat, JsonRoundTripsAndReplacesInvalidUtf8) {
  Record r = sample();
  r.message = "quote\" backslash\\ tab\t é 😀";
  r.fields = {{"user", "alice"}};
  const auto j = nlohmann::json::parse(format(OutputFormat::Json, r));
  EXPECT_EQ(j["ts"], "2025-11-24T16:00:00.123456Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["service"], "web");
  EXPECT_EQ(j["host"], "host1");
  EXPECT_EQ(j["message"], r.message);
  EXPECT_EQ(j["fields"]["user"], "alice");

  r.message = "bad \xff byte";
  const auto j2 = nlohmann::json::parse(format(OutputFormat::Json, r));
  EXPECT_EQ(j2["message"], "bad \xEF\xBF\xBD byte");  // U+FFFD
}

TEST(OutputFormat, TimestampsBeforeTheEpochAndFractions) {
  Record r = sample();
  r.timestampUs = 0;
  EXPECT_EQ(format(OutputFormat::Text, r).substr(0, 27), "1970-01-01T00:00:00.000000Z");
  r.timestampUs = -1;
  EXPECT_EQ(format(OutputFormat::Text, r).substr(0, 27), "1969-12-31T23:59:59.999999Z");
}

TEST(OutputFormat, JsonEscapesTheSameControlsAsText) {
  Record r = sample();
  r.message =
      "del\x7f nel\xc2\x85 ls\xe2\x80\xa8 ps\xe2\x80\xa9 rlo\xe2\x80\xae esc\x1b emoji\xF0\x9F\x98\x80 caf\xc3\xa9";
  const std::string line = format(OutputFormat::Json, r);
  EXPECT_NE(line.find("del\\u007f"), std::string::npos) << line;
  EXPECT_NE(line.find("nel\\u0085"), std::string::npos) << line;
  EXPECT_NE(line.find("ls\\u2028"), std::string::npos) << line;
  EXPECT_NE(line.find("ps\\u2029"), std::string::npos) << line;
  EXPECT_NE(line.find("rlo\\u202e"), std::string::npos) << line;
  EXPECT_NE(line.find("esc\\u001b"), std::string::npos) << line;
  EXPECT_NE(line.find("emoji\xF0\x9F\x98\x80 caf\xc3\xa9"), std::string::npos) << line;  // kept as is
  EXPECT_EQ(nlohmann::json::parse(line)["message"], r.message);  // still decodes to the original
}

TEST(OutputFormat, ALineFormatterReusedForManyRecordsWritesWhatAppendFormattedWrites) {
  std::vector<Record> records;
  Record r = sample();
  records.push_back(r);
  r.timestampUs += 999'999;  // the next second
  records.push_back(r);
  r.timestampUs = -1;  // before the epoch
  records.push_back(r);
  r.service = "api\x01";
  r.fields = {{"k", "v\n"}, {"k", "w"}};
  records.push_back(r);
  r.level = Level::Fatal;
  records.push_back(r);
  r.host = "h\xff";
  r.message = "caf\xc3\xa9 \xe2\x80\xa8";
  records.push_back(r);
  records.push_back(sample());
  for (auto f : {OutputFormat::Text, OutputFormat::Raw, OutputFormat::Json}) {
    LineFormatter formatter(f);
    std::string batched;
    std::string single;
    for (const Record& rec : records) {
      formatter.setMetadata(rec);
      formatter.append(batched, rec.timestampUs, rec.message);
      single += format(f, rec);
    }
    EXPECT_EQ(batched, single) << outputFormatName(f);
  }
  // The json format is exactly the compact dump of the object.
  nlohmann::ordered_json j;
  j["ts"] = "2025-11-24T16:00:00.123456Z";
  j["level"] = "warn";
  j["service"] = "web";
  j["host"] = "host1";
  j["message"] = "disk almost full";
  j["fields"] = nlohmann::ordered_json::object();
  j["fields"]["env"] = "prod";
  Record withFields = sample();
  withFields.fields = {{"env", "prod"}};
  EXPECT_EQ(format(OutputFormat::Json, withFields), j.dump() + "\n");
}
