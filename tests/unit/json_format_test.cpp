// --input-format json (producer/input/json_format.hpp): how one line becomes one record. Pure logic.
#include "producer/input/json_format.hpp"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/timestamp.hpp"
#include "producer/input/record_fields.hpp"

namespace logship {
namespace {

int64_t at(std::string_view rfc3339) { return *parseTimestamp(rfc3339); }

struct Converted {
  Record record;
  bool ok = false;
  std::map<std::string, std::string> fields;
  std::vector<std::string> keys;
};

Converted convert(std::string_view line, const Record& source = Record{}) {
  Converted c;
  c.ok = jsonLineToRecord(line, source, c.record);
  for (const auto& f : c.record.fields) {
    c.fields[f.key] = f.value;
    c.keys.push_back(f.key);
  }
  return c;
}

TEST(JsonFormat, MapsTheKnownKeysAndKeepsTheRestAsFields) {
  const auto c =
      convert(R"({"ts":"2026-01-02T03:04:05.123+01:00","level":"error","msg":"payment failed","service":"checkout",)"
              R"("host":"web-1","user":"bob","http":{"status":500,"path":"/pay","h":{"x":1}},"tags":["a",1],"ok":true,)"
              R"("none":null,"ratio":1.5,"big":12345678901234567890,"empty":{}})");
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.record.message, "payment failed");
  EXPECT_EQ(c.record.level, Level::Error);
  EXPECT_EQ(c.record.timestampUs, at("2026-01-02T02:04:05.123Z"));
  EXPECT_EQ(c.record.service, "checkout");
  EXPECT_EQ(c.record.host, "web-1");
  // In key order (objects are sorted maps), nested keys flattened in place.
  EXPECT_EQ(c.keys, (std::vector<std::string>{"big", "empty", "http.h.x", "http.path", "http.status", "none", "ok",
                                              "ratio", "tags", "user"}));
  EXPECT_EQ(c.fields.at("user"), "bob");
  EXPECT_EQ(c.fields.at("http.status"), "500");
  EXPECT_EQ(c.fields.at("http.path"), "/pay");
  EXPECT_EQ(c.fields.at("http.h.x"), "1");
  EXPECT_EQ(c.fields.at("tags"), R"(["a",1])");
  EXPECT_EQ(c.fields.at("ok"), "true");
  EXPECT_EQ(c.fields.at("none"), "null");
  EXPECT_EQ(c.fields.at("ratio"), "1.5");
  EXPECT_EQ(c.fields.at("big"), "12345678901234567890");
  EXPECT_EQ(c.fields.at("empty"), "{}");
}

TEST(JsonFormat, KeysAreMatchedWithoutCaseAndInOrderOfPreference) {
  auto c = convert(R"({"LEVEL":"WARNING","Message":"m","MSG":"other","App":"a","HostName":"h"})");
  EXPECT_EQ(c.record.level, Level::Warn);
  EXPECT_EQ(c.record.message, "m");
  EXPECT_EQ(c.record.service, "a");
  EXPECT_EQ(c.record.host, "h");
  EXPECT_EQ(c.keys, std::vector<std::string>{"MSG"});
  c = convert(R"({"log":"docker line\n","time":"2026-01-02T03:04:05.000000001Z"})");
  EXPECT_EQ(c.record.message, "docker line\n");
  EXPECT_EQ(c.record.timestampUs, at("2026-01-02T03:04:05Z"));
  // @timestamp comes before time.
  c = convert(R"({"time":"2020-01-01T00:00:00Z","@timestamp":"2021-01-01T00:00:00Z","message":"x"})");
  EXPECT_EQ(c.record.timestampUs, at("2021-01-01T00:00:00Z"));
  EXPECT_EQ(c.fields.at("time"), "2020-01-01T00:00:00Z");
}

TEST(JsonFormat, Levels) {
  auto level = [](std::string_view value) {
    return convert(std::string(R"({"msg":"m","level":)") + std::string(value) + "}");
  };
  EXPECT_EQ(level(R"("debug")").record.level, Level::Debug);
  EXPECT_EQ(level(R"("Critical")").record.level, Level::Fatal);
  EXPECT_EQ(level(R"("notice")").record.level, Level::Info);
  EXPECT_EQ(level(R"("emerg")").record.level, Level::Fatal);
  EXPECT_EQ(level(R"("dpanic")").record.level, Level::Fatal);
  // bunyan / pino numbers
  EXPECT_EQ(level("10").record.level, Level::Trace);
  EXPECT_EQ(level("20").record.level, Level::Debug);
  EXPECT_EQ(level("30").record.level, Level::Info);
  EXPECT_EQ(level("40").record.level, Level::Warn);
  EXPECT_EQ(level("50").record.level, Level::Error);
  EXPECT_EQ(level("60").record.level, Level::Fatal);
  EXPECT_EQ(level(R"("50")").record.level, Level::Error);
  // syslog severities (GELF)
  EXPECT_EQ(level("3").record.level, Level::Error);
  EXPECT_EQ(level("7").record.level, Level::Debug);
  // Not a level: the template's, and the value stays a field.
  Record source;
  source.level = Level::Warn;
  for (std::string_view value : {R"("loud")", "8", "-1", "2.5", "true", "null", R"({"a":1})"}) {
    const auto c = convert(std::string(R"({"msg":"m","level":)") + std::string(value) + "}", source);
    EXPECT_EQ(c.record.level, Level::Warn) << value;
    EXPECT_TRUE(c.fields.contains(value.starts_with('{') ? "level.a" : "level")) << value;
  }
  // severity is used when level is not a level.
  const auto c = convert(R"({"level":"loud","severity":"error","msg":"m"})");
  EXPECT_EQ(c.record.level, Level::Error);
  EXPECT_EQ(c.fields.at("level"), "loud");
}

TEST(JsonFormat, Timestamps) {
  auto time = [](std::string_view value) {
    return convert(std::string(R"({"msg":"m","ts":)") + std::string(value) + "}").record.timestampUs;
  };
  EXPECT_EQ(time("1700000000"), 1'700'000'000'000'000);           // seconds
  EXPECT_EQ(time("1700000000.25"), 1'700'000'000'250'000);        // seconds with a fraction
  EXPECT_EQ(time("1700000000123"), 1'700'000'000'123'000);        // milliseconds (pino)
  EXPECT_EQ(time("1700000000123456"), 1'700'000'000'123'456);     // microseconds
  EXPECT_EQ(time("1700000000123456789"), 1'700'000'000'123'456);  // nanoseconds
  EXPECT_EQ(time(R"("1700000000")"), 1'700'000'000'000'000);
  EXPECT_EQ(time(R"("2026-11-27T10:00:00Z")"), at("2026-11-27T10:00:00Z"));
  for (std::string_view bad : {R"("yesterday")", "-5", "0", "1e300", "true", R"("2026-13-01T00:00:00Z")", "1e25"}) {
    const auto c = convert(std::string(R"({"msg":"m","ts":)") + std::string(bad) + "}");
    EXPECT_EQ(c.record.timestampUs, 0) << bad;  // now
    EXPECT_TRUE(c.fields.contains("ts")) << bad;
  }
}

TEST(JsonFormat, WithoutAMessageKeyTheMessageIsTheLine) {
  const std::string line = R"({"event":"login","user":"bob","level":"info"})";
  const auto c = convert(line);
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.record.message, line);
  EXPECT_EQ(c.keys, (std::vector<std::string>{"event", "user"}));
  // A message that is not a string: its JSON text.
  EXPECT_EQ(convert(R"({"message":{"a":[1,2]}})").record.message, R"({"a":[1,2]})");
  EXPECT_EQ(convert(R"({"message":42})").record.message, "42");
  EXPECT_EQ(convert(R"({})").record.message, "{}");
}

TEST(JsonFormat, InvalidJsonIsKeptRawWithAParseError) {
  Record source;
  source.service = "svc";
  source.level = Level::Warn;
  source.fields = {{"env", "prod"}};
  struct Case {
    std::string_view line;
    std::string_view reason;  // the start of parse_error
  };
  for (const Case& k :
       {Case{"{not json", "invalid JSON at byte 3: syntax error while parsing object key"},
        Case{"plain text line", "invalid JSON at byte 1"}, Case{R"({"a":1} trailing)", "invalid JSON at byte 11"},
        Case{"[1,2]", "not a JSON object but an array"}, Case{"42", "not a JSON object but a number"},
        Case{R"("text")", "not a JSON object but a string"}, Case{"{\"a\":\"\xff\"}", "invalid JSON at byte"},
        Case{R"({"x":2.5e3115})", "invalid JSON: number overflow parsing '2.5e3115'"},
        Case{"   ", "invalid JSON at byte"}}) {
    const auto c = convert(k.line, source);
    EXPECT_FALSE(c.ok) << k.line;
    EXPECT_EQ(c.record.message, k.line);
    EXPECT_EQ(c.record.level, Level::Warn);
    EXPECT_EQ(c.record.service, "svc");
    EXPECT_EQ(c.record.timestampUs, 0);
    EXPECT_EQ(c.keys, (std::vector<std::string>{"env", "parse_error"})) << k.line;
    EXPECT_TRUE(c.fields.at("parse_error").starts_with(k.reason)) << k.line << " -> " << c.fields.at("parse_error");
    EXPECT_LE(c.fields.at("parse_error").size(), 200u);
  }
}

TEST(JsonFormat, DeepAndHugeInputIsBounded) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  auto c = convert(deep);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.fields.at("parse_error"), "JSON nested deeper than 64 levels: not parsed");
  EXPECT_EQ(c.record.message, deep);
  // 64 levels are fine (the object is the first).
  std::string nested = R"({"msg":"m","a":)";
  for (int i = 0; i < 62; ++i) nested += R"({"b":)";
  nested += "1" + std::string(63, '}');
  c = convert(nested);
  EXPECT_TRUE(c.ok) << c.fields["parse_error"];
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].substr(0, 6), "a.b.b.");
  // Brackets inside strings do not count.
  c = convert(R"({"msg":")" + std::string(1000, '[') + R"("})");
  EXPECT_TRUE(c.ok);

  std::string wide = R"({"msg":"m")";
  for (int i = 0; i < 50'000; ++i) wide += ",\"key" + std::to_string(i) + "\":\"" + std::string(10, 'v') + "\"";
  wide += "}";
  c = convert(wide);
  EXPECT_TRUE(c.ok);
  size_t bytes = 0;
  for (const auto& f : c.record.fields) bytes += f.key.size() + f.value.size();
  EXPECT_LE(bytes, kMaxFieldBytes + 32);
  ASSERT_TRUE(c.fields.contains("fields_dropped"));
  EXPECT_EQ(std::stoul(c.fields.at("fields_dropped")) + c.record.fields.size() - 1, 50'000u);
}

TEST(JsonFormat, FieldKeysAreSanitisedAndTheTemplateOverridden) {
  Record source;
  source.fields = {{"env", "prod"}, {"region", "eu"}};
  const auto c = convert(R"({"msg":"m","env":"dev","a b":1,"a_b":2,"ключ":3,"x=y":4})", source);
  EXPECT_EQ(c.keys, (std::vector<std::string>{"region", "a_b", "a_b_2", "env", "x_y", "________"}));
  EXPECT_EQ(c.fields.at("env"), "dev");
  EXPECT_EQ(c.fields.at("a_b"), "1");
  EXPECT_EQ(c.fields.at("a_b_2"), "2");
}

TEST(JsonFormat, ServiceAndHostMustBeNonEmptyStrings) {
  Record source;
  source.service = "tmpl";
  source.host = "here";
  auto c = convert(R"({"msg":"m","service":"","app":"real","host":{"name":"n"}})", source);
  EXPECT_EQ(c.record.service, "real");
  EXPECT_EQ(c.record.host, "here");
  EXPECT_EQ(c.fields.at("service"), "");
  EXPECT_EQ(c.fields.at("host.name"), "n");
  c = convert(R"({"msg":"m","service":"s","app":"a"})", source);
  EXPECT_EQ(c.record.service, "s");
  EXPECT_EQ(c.fields.at("app"), "a");
}

}  // namespace
}  // namespace logship
