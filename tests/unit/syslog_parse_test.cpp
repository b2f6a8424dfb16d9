// The syslog parser (RFC 5424, RFC 3164, anything else), the TCP framer (RFC 6587) and the rules for
// fields taken from the input (producer/input/record_fields.hpp): pure logic.
#include "producer/input/syslog_parse.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/timestamp.hpp"
#include "producer/input/record_fields.hpp"
#include "producer/input/syslog_framer.hpp"

namespace logship {
namespace {

int64_t at(std::string_view rfc3339) { return *parseTimestamp(rfc3339); }

// The local time zone of the process, set for one test and put back.
class ZoneGuard {
 public:
  explicit ZoneGuard(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ZoneGuard() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

struct Parsed {
  Record record;
  bool ok = false;
  std::map<std::string, std::string> fields;
  std::vector<std::string> keys;  // in order
};

Parsed parse(std::string_view frame, int64_t now = at("2026-11-27T12:00:00Z"), const Record& source = Record{}) {
  SyslogParser parser;
  Parsed p;
  p.ok = parser.parse(frame, source, "192.0.2.9", now, p.record);
  for (const auto& f : p.record.fields) {
    p.fields[f.key] = f.value;
    p.keys.push_back(f.key);
  }
  return p;
}

TEST(SyslogParse, Rfc5424WithStructuredDataAndBom) {
  const auto p = parse(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" "
      "eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"] \xEF\xBB\xBF"
      "An application event log entry...");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.level, Level::Info);  // severity 5, notice
  EXPECT_EQ(p.record.timestampUs, at("2003-10-11T22:14:15.003Z"));
  EXPECT_EQ(p.record.host, "mymachine.example.com");
  EXPECT_EQ(p.record.service, "evntslog");
  EXPECT_EQ(p.record.message, "An application event log entry...");
  EXPECT_EQ(p.keys, (std::vector<std::string>{"facility", "msgid", "sd.exampleSDID_32473.iut",
                                              "sd.exampleSDID_32473.eventSource", "sd.exampleSDID_32473.eventID",
                                              "sd.examplePriority_32473.class"}));
  EXPECT_EQ(p.fields.at("facility"), "local4");
  EXPECT_EQ(p.fields.at("msgid"), "ID47");
  EXPECT_EQ(p.fields.at("sd.exampleSDID_32473.eventID"), "1011");
  EXPECT_EQ(p.fields.at("sd.examplePriority_32473.class"), "high");
}

TEST(SyslogParse, Rfc5424OffsetFractionAndProcId) {
  const auto p =
      parse("<34>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.level, Level::Fatal);  // severity 2, crit
  EXPECT_EQ(p.record.timestampUs, at("2003-08-24T12:14:15.000003Z"));
  EXPECT_EQ(p.record.host, "192.0.2.1");
  EXPECT_EQ(p.record.service, "myproc");
  EXPECT_EQ(p.fields.at("procid"), "8710");
  EXPECT_EQ(p.fields.at("facility"), "auth");
  EXPECT_FALSE(p.fields.contains("msgid"));
  EXPECT_EQ(p.record.message, "%% It's time to make the do-nuts.");
}

TEST(SyslogParse, Rfc5424EscapesInParamValues) {
  const auto p = parse(R"(<13>1 - h a - - [x@1 q="say \"hi\"" b="back\\slash" c="br\]acket" d="kept\n" e=""] m)");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.fields.at("sd.x_1.q"), "say \"hi\"");
  EXPECT_EQ(p.fields.at("sd.x_1.b"), "back\\slash");
  EXPECT_EQ(p.fields.at("sd.x_1.c"), "br]acket");
  EXPECT_EQ(p.fields.at("sd.x_1.d"), "kept\\n");  // a backslash before anything else is itself
  EXPECT_EQ(p.fields.at("sd.x_1.e"), "");
  EXPECT_EQ(p.record.message, "m");
}

TEST(SyslogParse, Rfc5424NilValues) {
  Record source;
  source.service = "fallback";
  source.host = "producer-host";
  source.level = Level::Warn;
  const auto p = parse("<14>1 - - - - - -", at("2026-11-27T12:00:00Z"), source);
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.timestampUs, 0);     // now
  EXPECT_EQ(p.record.host, "192.0.2.9");  // the sender's address
  EXPECT_EQ(p.record.service, "fallback");
  EXPECT_EQ(p.record.level, Level::Info);  // from PRI, not the template
  EXPECT_EQ(p.keys, std::vector<std::string>{"facility"});
  EXPECT_EQ(p.record.message, "");
}

TEST(SyslogParse, Rfc5424LineBreaksInsideAreKeptTrailingOnesDropped) {
  const auto p = parse("<13>1 - h a - - - first\nsecond\r\n\n");
  EXPECT_EQ(p.record.message, "first\nsecond");
}

TEST(SyslogParse, Rfc5424BrokenStructuredDataKeepsTheHeader) {
  const auto p = parse("<11>1 - host app 12 - [unterminated a=\"1\" message");
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.record.level, Level::Error);
  EXPECT_EQ(p.record.host, "host");
  EXPECT_EQ(p.record.service, "app");
  EXPECT_EQ(p.record.message, "[unterminated a=\"1\" message");
  EXPECT_EQ(p.fields.at("parse_error"), "RFC 5424: bad SD-PARAM");
  EXPECT_FALSE(p.fields.contains("sd.unterminated.a"));

  const auto q = parse("<11>1 - host app 12 - [ok a=\"1\"]x");
  EXPECT_EQ(q.fields.at("parse_error"), "RFC 5424: no space after STRUCTURED-DATA");
  EXPECT_EQ(q.record.message, "[ok a=\"1\"]x");
  const auto r = parse("<11>1 - host app 12 - {json} m");
  EXPECT_EQ(r.fields.at("parse_error"), "RFC 5424: STRUCTURED-DATA is neither '-' nor '[...]'");
}

TEST(SyslogParse, Rfc5424BrokenHeaderIsKeptWhole) {
  for (std::string_view text : {"<13>1 yesterday host app - - - msg", "<13>1 2003-10-11T22:14:15Z host",
                                "<13>1 2003-10-11 host app - - - msg", "<13>1 -  host app - - msg"}) {
    const auto p = parse(text);
    EXPECT_FALSE(p.ok) << text;
    EXPECT_EQ(p.record.message, text);
    EXPECT_EQ(p.record.level, Level::Info);
    EXPECT_EQ(p.record.host, "192.0.2.9");
    EXPECT_EQ(p.record.timestampUs, 0);
    EXPECT_EQ(p.fields.at("facility"), "user");
    EXPECT_TRUE(p.fields.at("parse_error").starts_with("RFC 5424: ")) << text;
  }
}

TEST(SyslogParse, Rfc3164) {
  ZoneGuard utc("UTC");
  const auto p =
      parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", at("2003-10-12T08:00:00Z"));
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.level, Level::Fatal);
  EXPECT_EQ(p.record.timestampUs, at("2003-10-11T22:14:15Z"));
  EXPECT_EQ(p.record.host, "mymachine");
  EXPECT_EQ(p.record.service, "su");
  EXPECT_EQ(p.record.message, "'su root' failed for lonvick on /dev/pts/8");
  EXPECT_EQ(p.fields.at("facility"), "auth");
}

TEST(SyslogParse, Rfc3164TagWithPidPaddedDayAndFraction) {
  ZoneGuard utc("UTC");
  const auto p = parse("<12>Nov  7 01:02:03.250 web-1 postfix/smtpd[4711]: connect from x", at("2026-11-27T12:00:00Z"));
  EXPECT_EQ(p.record.level, Level::Warn);
  EXPECT_EQ(p.record.timestampUs, at("2026-11-07T01:02:03.25Z"));
  EXPECT_EQ(p.record.host, "web-1");
  EXPECT_EQ(p.record.service, "postfix/smtpd");
  EXPECT_EQ(p.fields.at("pid"), "4711");
  EXPECT_EQ(p.record.message, "connect from x");
  const auto q = parse("<13>Nov 7 01:02:03 h app[12] no colon");
  EXPECT_EQ(q.record.service, "app");
  EXPECT_EQ(q.fields.at("pid"), "12");
  EXPECT_EQ(q.record.message, "no colon");
}

TEST(SyslogParse, Rfc3164LocalTimeZone) {
  ZoneGuard berlin("CET-1CEST,M3.5.0,M10.5.0/3");  // POSIX rules: no zone files needed
  EXPECT_EQ(parse("<13>Jul  1 12:00:00 h a: m", at("2026-07-01T12:00:00Z")).record.timestampUs,
            at("2026-07-01T10:00:00Z"));  // summer time, +02:00
  EXPECT_EQ(parse("<13>Jan 15 12:00:00 h a: m", at("2026-01-15T12:00:00Z")).record.timestampUs,
            at("2026-01-15T11:00:00Z"));
}

TEST(SyslogParse, Rfc3164YearIsTheLatestNotAWeekAhead) {
  ZoneGuard utc("UTC");
  // Read just after New Year: last year's December.
  EXPECT_EQ(parse("<13>Dec 31 23:59:50 h a: m", at("2027-01-01T00:00:30Z")).record.timestampUs,
            at("2026-12-31T23:59:50Z"));
  // A sender's clock a little ahead at New Year: next year's January.
  EXPECT_EQ(parse("<13>Jan  1 00:00:10 h a: m", at("2026-12-31T23:59:50Z")).record.timestampUs,
            at("2027-01-01T00:00:10Z"));
  EXPECT_EQ(parse("<13>Sep  3 10:00:00 h a: m", at("2026-11-27T12:00:00Z")).record.timestampUs,
            at("2026-09-03T10:00:00Z"));
  // Never more than a week ahead: March 3rd read in November is this year's, although next year's
  // would be nearer.
  EXPECT_EQ(parse("<13>Mar  3 10:00:00 h a: m", at("2026-11-27T12:00:00Z")).record.timestampUs,
            at("2026-03-03T10:00:00Z"));
  EXPECT_EQ(parse("<13>Dec  1 10:00:00 h a: m", at("2026-11-27T12:00:00Z")).record.timestampUs,
            at("2026-12-01T10:00:00Z"));  // 4 days ahead: a sender's clock off, still this year
}

TEST(SyslogParse, Rfc3164Variants) {
  // No HOSTNAME: the token after the time is the tag.
  auto p = parse("<13>Nov 27 16:53:04 myapp: hello");
  EXPECT_EQ(p.record.host, "192.0.2.9");
  EXPECT_EQ(p.record.service, "myapp");
  EXPECT_EQ(p.record.message, "hello");
  p = parse("<13>Nov 27 16:53:04 myapp[7]: hello");
  EXPECT_EQ(p.record.service, "myapp");
  EXPECT_EQ(p.fields.at("pid"), "7");
  // No time at all: no HOSTNAME either, a tag may still be there.
  p = parse("<13>app: hello there");
  EXPECT_EQ(p.record.timestampUs, 0);
  EXPECT_EQ(p.record.service, "app");
  EXPECT_EQ(p.record.message, "hello there");
  EXPECT_EQ(p.record.host, "192.0.2.9");
  p = parse("<13>just some text");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.service, "-");
  EXPECT_EQ(p.record.message, "just some text");
  // A colon that does not end a tag ("http://") is text.
  p = parse("<13>http://example.com/ down");
  EXPECT_EQ(p.record.service, "-");
  EXPECT_EQ(p.record.message, "http://example.com/ down");
  // An RFC 3339 time in place of the BSD one (rsyslog's forwarding formats).
  p = parse("<13>2024-01-02T03:04:05.5+01:00 host app: m");
  EXPECT_EQ(p.record.timestampUs, at("2024-01-02T02:04:05.5Z"));
  EXPECT_EQ(p.record.host, "host");
  EXPECT_EQ(p.record.service, "app");
  // Only a PRI.
  p = parse("<13>");
  EXPECT_TRUE(p.ok);
  EXPECT_EQ(p.record.message, "");
}

TEST(SyslogParse, NotSyslogIsKeptWithAParseError) {
  Record source;
  source.level = Level::Warn;
  source.service = "svc";
  source.fields.push_back({"env", "prod"});
  for (std::string_view text : {"hello world", "<192>1 - - - - - - too high", "<>x", "<1234>x", "<13"}) {
    const auto p = parse(text, at("2026-11-27T12:00:00Z"), source);
    EXPECT_FALSE(p.ok) << text;
    EXPECT_EQ(p.record.message, text);
    EXPECT_EQ(p.record.level, Level::Warn);
    EXPECT_EQ(p.record.service, "svc");
    EXPECT_EQ(p.record.host, "192.0.2.9");
    EXPECT_EQ(p.keys, (std::vector<std::string>{"env", "parse_error"}));
    EXPECT_EQ(p.fields.at("parse_error"), "no <PRI> at the start: not a syslog message");
  }
}

TEST(SyslogParse, TemplateFieldsComeFirstAndTheMessageOverridesThem) {
  Record source;
  source.fields = {{"env", "prod"}, {"procid", "default"}};
  const auto p = parse("<13>1 - h app 42 - - m", at("2026-11-27T12:00:00Z"), source);
  EXPECT_EQ(p.keys, (std::vector<std::string>{"env", "facility", "procid"}));
  EXPECT_EQ(p.fields.at("procid"), "42");
}

TEST(SyslogParse, SeveritiesAndFacilities) {
  const Level expected[8] = {Level::Fatal, Level::Fatal, Level::Fatal, Level::Error,
                             Level::Warn,  Level::Info,  Level::Info,  Level::Debug};
  for (unsigned s = 0; s < 8; ++s) {
    EXPECT_EQ(syslogSeverityLevel(s), expected[s]);
    EXPECT_EQ(parse("<" + std::to_string(128 + s) + ">1 - - - - - - m").record.level, expected[s]);
  }
  EXPECT_EQ(syslogFacilityName(0), "kern");
  EXPECT_EQ(syslogFacilityName(10), "authpriv");
  EXPECT_EQ(syslogFacilityName(23), "local7");
  EXPECT_EQ(parse("<191>1 - - - - - - m").fields.at("facility"), "local7");
  EXPECT_EQ(parse("<0>1 - - - - - - m").fields.at("facility"), "kern");
}

TEST(SyslogParse, LongNamesAreCutAndHugeStructuredDataBounded) {
  const std::string host(300, 'h');
  const auto p = parse("<13>1 - " + host + " - - - - m");
  EXPECT_EQ(p.record.host, std::string(kMaxServiceHostBytes, 'h'));
  std::string sd;
  for (int i = 0; i < 2000; ++i) sd += "[id" + std::to_string(i) + " p=\"" + std::string(100, 'v') + "\"]";
  const auto q = parse("<13>1 - h a - - " + sd + " m");
  EXPECT_TRUE(q.ok);
  EXPECT_EQ(q.record.message, "m");
  size_t bytes = 0;
  for (const auto& f : q.record.fields) bytes += f.key.size() + f.value.size();
  EXPECT_LE(bytes, kMaxFieldBytes + 64);
  ASSERT_TRUE(q.fields.contains("fields_dropped"));
  EXPECT_EQ(q.keys.back(), "fields_dropped");
  EXPECT_EQ(std::stoul(q.fields.at("fields_dropped")) + q.record.fields.size() - 2, 2000u);  // - facility, the count
}

// ---- fields from the input --------------------------------------------------------------------

TEST(RecordFields, KeysAreSanitisedAndDuplicatesKept) {
  Record source;
  source.fields = {{"env", "prod"}};
  Record r;
  FieldBuilder f(r, source);
  f.add("a b", "1");
  f.add("a_b", "2");
  f.add("a_b", "3");
  f.add("", "empty");
  f.add("ключ", "utf8");
  f.add("env", "dev");
  f.add("env", "again");
  f.add(std::string(300, 'k'), "long");
  f.finish();
  std::vector<std::string> keys;
  for (const auto& field : r.fields) keys.push_back(field.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a_b", "a_b_2", "a_b_3", "_", "________", "env", "env_2",
                                            std::string(kMaxFieldKeyBytes, 'k')}));
  EXPECT_EQ(r.fields[5].value, "dev");
  EXPECT_EQ(r.fields[6].value, "again");
}

TEST(RecordFields, ManyFieldsStayFastAndUnique) {
  Record r;
  FieldBuilder f(r, Record{});
  for (int i = 0; i < 6000; ++i) f.add("k" + std::to_string(i % 3000), "v");
  f.finish();
  std::set<std::string> keys;
  for (const auto& field : r.fields) EXPECT_TRUE(keys.insert(field.key).second) << field.key;
  EXPECT_FALSE(keys.contains("fields_dropped"));
  EXPECT_EQ(r.fields.size(), 6000u);
}

TEST(RecordFields, NamesAreCutAtACharacterBoundary) {
  std::string out;
  assignName(out, std::string(254, 'a') + "é");  // 256 bytes: the é would be cut in half
  EXPECT_EQ(out, std::string(254, 'a'));
  assignName(out, "");
  EXPECT_EQ(out, "-");
}

// ---- TCP framing ----------------------------------------------------------------------------------

// Feeds `input` in pieces of `step` bytes (the first `first` bytes in one piece); frames as text,
// too-long ones as "<too long N>" ("N+>" when N is a lower bound), the rest at the end as "<rest X>"
// or "<cut X>".
std::vector<std::string> frames(std::string_view input, size_t max, size_t step, size_t first = 0) {
  SyslogFramer framer(max);
  std::vector<std::string> out;
  for (size_t i = 0; i < input.size();) {
    const std::string_view piece = input.substr(i, i == 0 ? std::max(first, step) : step);
    i += piece.size();
    std::memcpy(framer.writable(piece.size()), piece.data(), piece.size());
    framer.commit(piece.size());
    std::string_view frame;
    SyslogFramer::TooLongFrame tooLong;
    for (bool more = true; more;) {
      switch (framer.next(frame, tooLong)) {
        case SyslogFramer::Result::Frame: out.emplace_back(frame); break;
        case SyslogFramer::Result::TooLong:
          out.push_back("<too long " + std::to_string(tooLong.bytes) + (tooLong.atLeast ? "+>" : ">"));
          break;
        case SyslogFramer::Result::NeedMore: more = false; break;
      }
    }
  }
  std::string_view rest;
  bool cut = false;
  if (framer.rest(rest, cut)) out.push_back(std::string(cut ? "<cut " : "<rest ") + std::string(rest) + ">");
  return out;
}

TEST(SyslogFramer, SplitsEveryWayWhateverThePieces) {
  using namespace std::string_literals;
  const std::string input =
      "<13>one\n<13>two\r\n\n\r\n<13>three\n"
      "11 <13>octet\n1"
      "2 <13>split\n\n"
      "0 "
      "123abc\n"
      "<13>last without LF"s;
  // Octet counting takes exactly its length: "11 <13>octet\n1" is one frame with its LF inside, so
  // the "2 " that follows counts "<1", and "3>split" is a line (a digit, but no length).
  const std::vector<std::string> got = frames(std::string_view(input.data(), input.size()), 100, input.size());
  EXPECT_EQ(got, (std::vector<std::string>{"<13>one", "<13>two", "<13>three", "<13>octet\n1", "<1", "3>split", "123abc",
                                           "<rest <13>last without LF>"}));
  for (size_t step = 1; step < input.size(); ++step) {
    EXPECT_EQ(frames(std::string_view(input.data(), input.size()), 100, step), got) << "pieces of " << step;
  }
}

TEST(SyslogFramer, OctetCountingAndLines) {
  EXPECT_EQ(frames("5 hello3 abc<13>x\n", 100, 64), (std::vector<std::string>{"hello", "abc", "<13>x"}));
  EXPECT_EQ(frames("38 <13>Nov 27 16:53:04 vm tcpapp: tcp two", 100, 7),
            (std::vector<std::string>{"<13>Nov 27 16:53:04 vm tcpapp: tcp two"}));
  // Eleven digits are no length: a line.
  EXPECT_EQ(frames("12345678901 x\n", 100, 64), (std::vector<std::string>{"12345678901 x"}));
}

TEST(SyslogFramer, TooLongFramesAreSkippedAndTheStreamStaysInStep) {
  const std::string big(50, 'x');
  for (size_t step : {1, 3, 7, 64, 1000}) {
    EXPECT_EQ(frames("50 " + big + "5 after", 10, step), (std::vector<std::string>{"<too long 50>", "after"})) << step;
    const auto lines = frames("<13>" + big + "\n<13>ok\n", 10, step);
    ASSERT_EQ(lines.size(), 2u) << step;
    // Found too long before its LF came: the size said is a lower bound.
    EXPECT_EQ(lines[0], step < 54 ? "<too long " + std::to_string(step * (12 / step + 1)) + "+>" : "<too long 54>")
        << step;
    EXPECT_EQ(lines[1], "<13>ok") << step;
  }
  // Exactly the limit passes.
  EXPECT_EQ(frames("10 0123456789", 10, 3), (std::vector<std::string>{"0123456789"}));
  EXPECT_EQ(frames("0123456789\n", 10, 3), (std::vector<std::string>{"0123456789"}));
}

// Python's logging.handlers.SysLogHandler over TCP ends each message with a NUL, and a stack trace
// holds LFs: a NUL-terminated frame is one message, and after the first one only a NUL ends a frame.
TEST(SyslogFramer, NulTerminatedFramesKeepTheirLineBreaks) {
  using namespace std::string_literals;
  const std::string trace = "<11>boom\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: x";
  const std::string input = trace + "\0"s + "<14>second\n\0"s + "<14>third\r\n\0"s + "<14>a\nb"s;
  const std::vector<std::string> want{trace, "<14>second", "<14>third", "<rest <14>a\nb>"};
  // Whatever the reads after the first NUL came (the first frame is decided by whether its NUL came
  // with it: see below).
  for (size_t step = 1; step <= input.size(); ++step) {
    EXPECT_EQ(frames(input, 1000, step, trace.size() + 1), want) << "pieces of " << step;
  }
  // The first frame's LF arrived without its NUL: LF framing still, the line ends there.
  EXPECT_EQ(frames(trace + "\0"s, 1000, 9), (std::vector<std::string>{"<11>boom", "Traceback (most recent call last):",
                                                                      "  File \"x.py\", line 1", "ValueError: x"}));
}

TEST(SyslogFramer, LfAndNulFramingOnOneConnection) {
  using namespace std::string_literals;
  // A NUL before the LF ends the frame, and the connection goes over to NUL framing.
  EXPECT_EQ(frames("<13>a\0<13>b\n<13>c\0"s, 100, 64), (std::vector<std::string>{"<13>a", "<13>b\n<13>c"}));
  // A NUL beyond the size limit does not join lines: they end at their LF.
  EXPECT_EQ(frames("<13>a\n<13>b\n0123456789\0<13>c\0"s, 10, 64),
            (std::vector<std::string>{"<13>a", "<13>b", "0123456789", "<13>c"}));
  // Octet counting is still recognized in NUL framing.
  EXPECT_EQ(frames("<13>a\0"
                   "5 b\nc\0d<13>e\nf\0"s,
                   100, 64),
            (std::vector<std::string>{"<13>a", "b\nc\0d"s, "<13>e\nf"}));
  // A too-long frame in NUL framing is skipped up to its NUL, LFs and all.
  EXPECT_EQ(frames("<13>a\0"s + std::string(30, 'x') + "\n" + std::string(30, 'y') + "\0<13>ok\0"s, 20, 8),
            (std::vector<std::string>{"<13>a", "<too long 26+>", "<13>ok"}));
}

TEST(SyslogFramer, WhatIsLeftAtTheEnd) {
  EXPECT_EQ(frames("10 abc", 100, 64), (std::vector<std::string>{"<cut abc>"}));
  EXPECT_EQ(frames("10 ", 100, 64), (std::vector<std::string>{}));
  EXPECT_EQ(frames("12345", 100, 64), (std::vector<std::string>{"<rest 12345>"}));
  EXPECT_EQ(frames("partial\r", 100, 64), (std::vector<std::string>{"<rest partial>"}));
  EXPECT_EQ(frames("", 100, 64), (std::vector<std::string>{}));
}

}  // namespace
}  // namespace logship
