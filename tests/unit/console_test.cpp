// The pure parts of logctl serve's console: query parameters, histogram bucketing, token and origin
// checks, Prometheus text sums, CSV fields, match ranges.
#include <gtest/gtest.h>

#include "console/histogram.hpp"
#include "console/live.hpp"
#include "console/params.hpp"
#include "console/pipeline.hpp"
#include "console/records.hpp"
#include "console/security.hpp"
#include "core/timestamp.hpp"

using namespace logship;
using namespace logship::console;

namespace {

constexpr int64_t kNowUs = 1'765'000'000'000'000;

int statusOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 0;
}

}  // namespace

TEST(ConsoleParams, FiltersReadEveryParameter) {
  const Params p{{"q", "time(out)?"},    {"level", "warn"}, {"service", "api"},
                 {"service", "db"},      {"host", "web-*"}, {"from", "2026-12-01T00:00:00Z"},
                 {"to", "1796169600000"}};
  const search::Query q = parseFilters(p, kNowUs);
  EXPECT_EQ(q.grep, "time(out)?");
  EXPECT_EQ(q.minLevel, Level::Warn);
  EXPECT_EQ(q.services, (std::vector<std::string>{"api", "db"}));
  EXPECT_EQ(q.hosts, (std::vector<std::string>{"web-*"}));
  EXPECT_EQ(q.sinceUs, parseTimestamp("2026-12-01T00:00:00Z"));
  EXPECT_EQ(q.untilUs, int64_t{1796169600000} * 1000);  // epoch milliseconds
}

TEST(ConsoleParams, EmptyParametersMeanNoCondition) {
  const search::Query q = parseFilters(Params{{"q", ""}, {"level", ""}, {"service", ""}, {"from", ""}}, kNowUs);
  EXPECT_FALSE(q.needsRecordParts());
  EXPECT_EQ(q.grep, "");
}

TEST(ConsoleParams, DurationsCountBackFromNow) {
  EXPECT_EQ(parseTimeParam("from", "15m", kNowUs), kNowUs - 15 * 60 * 1'000'000LL);
}

TEST(ConsoleParams, BadValuesAre400NamingTheParameter) {
  EXPECT_EQ(statusOf([] { parseFilters(Params{{"level", "loud"}}, kNowUs); }), 400);
  EXPECT_EQ(statusOf([] { parseFilters(Params{{"from", "yesterday"}}, kNowUs); }), 400);
  EXPECT_EQ(statusOf([] { parseFilters(Params{{"from", "2000"}, {"to", "1000"}}, kNowUs); }), 400);
  EXPECT_EQ(statusOf([] { parsePage(Params{{"limit", "0"}}); }), 400);
  EXPECT_EQ(statusOf([] { parsePage(Params{{"limit", "1001"}}); }), 400);
  EXPECT_EQ(statusOf([] { parsePage(Params{{"cursor", "../etc"}}); }), 400);
  try {
    parseFilters(Params{{"level", "loud"}}, kNowUs);
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("level"), std::string::npos) << e.what();
  }
}

TEST(ConsoleParams, CursorsPageThroughTheResult) {
  Page page = parsePage(Params{{"limit", "100"}});
  EXPECT_EQ(page.skip, 0u);
  EXPECT_FALSE(page.untilUs);
  const auto next = nextCursor(page, 250, 0);  // no record has a time: no time bound
  ASSERT_TRUE(next);
  page = parsePage(Params{{"limit", "100"}, {"cursor", *next}});
  EXPECT_EQ(page.skip, 100u);
  EXPECT_FALSE(page.untilUs);
  page = parsePage(Params{{"limit", "100"}, {"cursor", *nextCursor(page, 250, 0)}});
  EXPECT_EQ(page.skip, 200u);
  EXPECT_FALSE(nextCursor(page, 250, 0));  // the last page
}

TEST(ConsoleParams, CursorsKeepTheFirstPagesNewestTime) {
  Page page = parsePage(Params{{"limit", "10"}});
  const auto second = nextCursor(page, 100, kNowUs);
  ASSERT_TRUE(second);
  page = parsePage(Params{{"limit", "10"}, {"cursor", *second}});
  EXPECT_EQ(page.skip, 10u);
  EXPECT_EQ(page.untilUs, kNowUs + 1);  // the newest record is in, anything newer out
  // Later pages keep the first page's bound, not their own newest record's time.
  const auto third = nextCursor(page, 100, kNowUs - 5'000'000);
  ASSERT_TRUE(third);
  page = parsePage(Params{{"limit", "10"}, {"cursor", *third}});
  EXPECT_EQ(page.skip, 20u);
  EXPECT_EQ(page.untilUs, kNowUs + 1);
  for (const char* bad : {"s10u", "s10ux", "su5", "s10u5u6", "s-1", "s10u999999999999999999999", "t10"}) {
    EXPECT_EQ(statusOf([&] { parsePage(Params{{"cursor", bad}}); }), 400) << bad;
  }
}

TEST(ConsoleHistogram, BucketsCoverTheRangeWithRoundWidths) {
  Histogram h;
  for (int i = 0; i < 60; ++i) h.add(1'000'000 + i * 1000);  // one per second for a minute
  const HistogramResult r = h.result(std::nullopt, std::nullopt, 10);
  EXPECT_EQ(r.bucketMs, 10'000);  // 60 s in at most 10 buckets: 10 s each
  EXPECT_EQ(r.fromMs % r.bucketMs, 0);
  uint64_t sum = 0;
  for (auto n : r.counts) sum += n;
  EXPECT_EQ(sum, 60u);
  EXPECT_LE(r.counts.size(), 10u);
  EXPECT_EQ(r.toMs - r.fromMs, static_cast<int64_t>(r.counts.size()) * r.bucketMs);
}

TEST(ConsoleHistogram, QueryBoundsSetTheRangeAndLeaveOutsideCountsOut) {
  Histogram h;
  h.add(500);
  h.add(5'500);
  h.add(99'000);
  const HistogramResult r = h.result(0, 10'000, 10);
  EXPECT_EQ(r.fromMs, 0);
  EXPECT_EQ(r.toMs, 10'000);
  EXPECT_EQ(r.bucketMs, 1000);
  ASSERT_EQ(r.counts.size(), 10u);
  EXPECT_EQ(r.counts[0], 1u);
  EXPECT_EQ(r.counts[5], 1u);
}

TEST(ConsoleHistogram, CoarsensWhenTooManySecondsAreHeld) {
  Histogram h(100);
  for (int i = 0; i < 1000; ++i) h.add(int64_t{i} * 1000);
  EXPECT_EQ(h.unitMs(), 60'000);
  const HistogramResult r = h.result(std::nullopt, std::nullopt, 120);
  uint64_t sum = 0;
  for (auto n : r.counts) sum += n;
  EXPECT_EQ(sum, 1000u);
  EXPECT_EQ(r.bucketMs % 60'000, 0);
}

TEST(ConsoleHistogram, EmptyWithoutBoundsIsEmpty) {
  EXPECT_TRUE(Histogram().result(std::nullopt, std::nullopt).counts.empty());
}

TEST(ConsoleSecurity, TokensCompareWhole) {
  EXPECT_TRUE(tokensEqual("s3cret", "s3cret"));
  EXPECT_FALSE(tokensEqual("s3cret", "s3creT"));
  EXPECT_FALSE(tokensEqual("s3cret", "s3cret2"));
  EXPECT_FALSE(tokensEqual("", "x"));
  EXPECT_TRUE(tokensEqual("", ""));
}

TEST(ConsoleSecurity, RequestTokenFromBearerOrCookie) {
  EXPECT_EQ(requestToken("Bearer abc", ""), "abc");
  EXPECT_EQ(requestToken("", "theme=dark; logship_token=xyz; a=b"), "xyz");
  EXPECT_FALSE(requestToken("Basic abc", "other=1"));
}

TEST(ConsoleSecurity, LoopbackHosts) {
  EXPECT_TRUE(isLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(isLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(isLoopbackHost("::1"));
  EXPECT_TRUE(isLoopbackHost("localhost"));
  EXPECT_FALSE(isLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(isLoopbackHost("::"));
  EXPECT_FALSE(isLoopbackHost("192.168.1.10"));
  EXPECT_FALSE(isLoopbackHost("example.com"));
}

TEST(ConsoleSecurity, HostOfHostHeader) {
  EXPECT_EQ(hostOfHostHeader("127.0.0.1:8080"), "127.0.0.1");
  EXPECT_EQ(hostOfHostHeader("[::1]:8080"), "::1");
  EXPECT_EQ(hostOfHostHeader("localhost"), "localhost");
  EXPECT_EQ(hostOfHostHeader("evil.example:8080"), "evil.example");
  EXPECT_TRUE(isLoopbackHost(hostOfHostHeader("127.0.0.1:8080")));
  EXPECT_FALSE(isLoopbackHost(hostOfHostHeader("127.0.0.1.evil.example")));
  EXPECT_FALSE(isLoopbackHost(hostOfHostHeader("")));
}

TEST(ConsoleSecurity, SameOrigin) {
  EXPECT_TRUE(sameOrigin("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_TRUE(sameOrigin("https://logs.example.com", "logs.example.com"));
  EXPECT_FALSE(sameOrigin("http://evil.example", "127.0.0.1:8080"));
  EXPECT_FALSE(sameOrigin("ftp://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(sameOrigin("http://127.0.0.1:8080.evil.example", "127.0.0.1:8080"));
  EXPECT_FALSE(sameOrigin("null", "127.0.0.1:8080"));
}

TEST(ConsolePipeline, SumsSamplesPerName) {
  const auto m = sumSamples(
      "# HELP x y\n# TYPE logship_aggregator_errors_total counter\n"
      "logship_aggregator_errors_total{kind=\"write\"} 2\n"
      "logship_aggregator_errors_total{kind=\"connection\"} 3\n"
      "logship_producer_spool_bytes 4096\n"
      "bad line\n");
  EXPECT_EQ(m.at("logship_aggregator_errors_total"), 5);
  EXPECT_EQ(m.at("logship_producer_spool_bytes"), 4096);
  EXPECT_FALSE(m.contains("bad"));
}

TEST(ConsolePipeline, TargetUrls) {
  EXPECT_EQ(targetBase("http://127.0.0.1:9464/metrics"), "http://127.0.0.1:9464");
  EXPECT_EQ(targetBase("http://127.0.0.1:9464"), "http://127.0.0.1:9464");
  EXPECT_THROW(targetBase("127.0.0.1:9464"), UsageError);
  EXPECT_THROW(targetBase("file:///etc/passwd"), UsageError);
}

TEST(ConsoleRecords, CsvFieldsQuoteWhatNeedsIt) {
  std::string out;
  appendCsvField(out, "plain");
  out += ',';
  appendCsvField(out, "a,\"b\"\nc");
  EXPECT_EQ(out, "plain,\"a,\"\"b\"\"\nc\"");
}

TEST(ConsoleRecords, MatchRangesForHighlighting) {
  EXPECT_EQ(matchRanges("time(out)?", "a timeout then time"),
            (std::vector<std::pair<size_t, size_t>>{{2, 9}, {15, 19}}));
  EXPECT_TRUE(matchRanges("", "anything").empty());
}

TEST(ConsoleRecords, RecordJsonKeepsMarkupAsText) {
  Record r;
  r.timestampUs = 1'765'000'000'123'456;
  r.message = "<img src=x onerror=alert(1)>\x1b[31m";
  r.fields = {{"k", "<b>"}};
  const Json j = recordJson(r);
  EXPECT_EQ(j["message"], r.message);
  EXPECT_EQ(j["time_ms"], 1'765'000'000'123);
  const std::string text = j.dump();
  EXPECT_EQ(text.find('\x1b'), std::string::npos);  // control characters are \u escapes
}

namespace {

Record liveRecord(const std::string& service, Level level, const std::string& message) {
  Record r;
  r.timestampUs = kNowUs;
  r.service = service;
  r.level = level;
  r.message = message;
  return r;
}

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST(ConsoleLive, FiltersOnTheClientsConditions) {
  ctl::TailFilter filter;
  filter.minLevel = Level::Warn;
  filter.services = {"api"};
  LiveClient client(filter, std::make_unique<search::Pattern>("time(out)?"), 10);
  std::string line;
  client.offer(liveRecord("api", Level::Error, "timeout calling db"), line);
  client.offer(liveRecord("api", Level::Info, "timeout but info"), line);
  client.offer(liveRecord("web", Level::Error, "timeout elsewhere"), line);
  client.offer(liveRecord("api", Level::Error, "no match"), line);
  std::string out;
  ASSERT_TRUE(client.take(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(countOf(out, "event: record\n"), 1u) << out;
  EXPECT_NE(out.find("timeout calling db"), std::string::npos);
  out.clear();
  EXPECT_FALSE(client.take(out, std::chrono::milliseconds(0)));  // nothing more
}

TEST(ConsoleLive, ASlowClientLosesTheOldestAndIsToldHowMany) {
  LiveClient client(ctl::TailFilter{}, nullptr, 100);
  std::string line;
  for (int i = 0; i < 130; ++i) client.offer(liveRecord("api", Level::Info, "record " + std::to_string(i)), line);
  client.missed(2);  // lost by the subscription itself
  std::string out;
  ASSERT_TRUE(client.take(out, std::chrono::milliseconds(0)));
  EXPECT_TRUE(out.starts_with("event: skipped\ndata: {\"count\":32}\n\n")) << out.substr(0, 80);
  EXPECT_EQ(countOf(out, "event: record\n"), 100u);
  EXPECT_EQ(out.find("\"record 29\""), std::string::npos);  // the oldest went
  EXPECT_NE(out.find("\"record 30\""), std::string::npos);
  EXPECT_NE(out.find("\"record 129\""), std::string::npos);
}

TEST(ConsoleLive, EventsAreOneLineOfJson) {
  LiveClient client(ctl::TailFilter{}, nullptr, 10);
  std::string line;
  client.offer(liveRecord("api", Level::Info, "two\nlines <b>"), line);
  std::string out;
  ASSERT_TRUE(client.take(out, std::chrono::milliseconds(0)));
  EXPECT_EQ(countOf(out, "\n"), 3u) << out;  // event, data, blank line: the \n in the message is escaped
}
