#include "producer/input/syslog_parse.hpp"

#include <array>
#include <cstdlib>
#include <ctime>

#include "core/timestamp.hpp"
#include "producer/input/record_fields.hpp"

namespace logship {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Takes the token up to the next space off the front of `s`. False (nothing taken) when there is no space.
bool takeToken(std::string_view& s, std::string_view& token) {
  const size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return false;
  token = s.substr(0, sp);
  s.remove_prefix(sp + 1);
  return true;
}

// "<PRI>" at the start: its length (3 to 5), or 0 when there is none. PRI is 0 to 191.
size_t parsePri(std::string_view s, unsigned& pri) {
  if (s.size() < 3 || s[0] != '<') return 0;
  unsigned value = 0;
  size_t i = 1;
  while (i < s.size() && i <= 3 && isDigit(s[i])) value = value * 10 + static_cast<unsigned>(s[i++] - '0');
  if (i == 1 || i >= s.size() || s[i] != '>' || value > 191) return 0;
  pri = value;
  return i + 1;
}

// "Mmm dd hh:mm:ss[.fraction]" (the day may be " d", "dd" or "d") at the start of `s`, followed by a
// space or the end: its length, or 0.
size_t parseBsdTime(std::string_view s, unsigned& month, unsigned& day, unsigned& hour, unsigned& minute,
                    unsigned& second, int64_t& micros) {
  static constexpr std::array<std::string_view, 12> kMonths{"jan", "feb", "mar", "apr", "may", "jun",
                                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 14 || s[3] != ' ') return 0;
  month = 0;
  for (unsigned m = 0; m < 12; ++m) {
    bool same = true;
    for (size_t k = 0; k < 3; ++k) same = same && (s[k] | 0x20) == kMonths[m][k];
    if (same) month = m + 1;
  }
  if (month == 0) return 0;
  size_t i = 4;
  if (s[i] == ' ' && isDigit(s[i + 1])) {
    day = static_cast<unsigned>(s[i + 1] - '0');
    i += 2;
  } else if (isDigit(s[i]) && isDigit(s[i + 1])) {
    day = static_cast<unsigned>((s[i] - '0') * 10 + (s[i + 1] - '0'));
    i += 2;
  } else if (isDigit(s[i]) && s[i + 1] == ' ') {
    day = static_cast<unsigned>(s[i] - '0');
    i += 1;
  } else {
    return 0;
  }
  if (i + 9 > s.size() || s[i] != ' ') return 0;
  const std::string_view t = s.substr(i + 1, 8);
  if (!isDigit(t[0]) || !isDigit(t[1]) || t[2] != ':' || !isDigit(t[3]) || !isDigit(t[4]) || t[5] != ':' ||
      !isDigit(t[6]) || !isDigit(t[7])) {
    return 0;
  }
  hour = static_cast<unsigned>((t[0] - '0') * 10 + (t[1] - '0'));
  minute = static_cast<unsigned>((t[3] - '0') * 10 + (t[4] - '0'));
  second = static_cast<unsigned>((t[6] - '0') * 10 + (t[7] - '0'));
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return 0;
  i += 9;
  micros = 0;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    int64_t scale = 100'000;
    while (j < s.size() && isDigit(s[j])) {
      micros += (s[j] - '0') * scale;
      scale /= 10;
      ++j;
    }
    if (j == i + 1) return 0;
    i = j;
  }
  if (i < s.size() && s[i] != ' ') return 0;
  return i;
}

bool hostnameByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == ':' || c == '%';
}

}  // namespace

Level syslogSeverityLevel(unsigned severity) {
  if (severity <= 2) return Level::Fatal;
  if (severity == 3) return Level::Error;
  if (severity == 4) return Level::Warn;
  if (severity <= 6) return Level::Info;
  return Level::Debug;
}

std::string_view syslogFacilityName(unsigned facility) {
  static constexpr std::array<std::string_view, 24> kNames{
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
      "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
  return facility < kNames.size() ? kNames[facility] : std::string_view("unknown");
}

bool SyslogParser::parse(std::string_view frame, const Record& source, std::string_view peer, int64_t nowUs,
                         Record& out) {
  while (!frame.empty() && (frame.back() == '\n' || frame.back() == '\r' || frame.back() == '\0')) {
    frame.remove_suffix(1);
  }
  out_ = &out;
  nowUs_ = nowUs;
  hostname_ = appName_ = procId_ = msgId_ = pid_ = {};
  paramCount_ = 0;
  out.timestampUs = 0;
  out.level = source.level;
  out.id.clear();

  FieldBuilder fields(out, source);
  std::string_view error;
  unsigned pri = 0;
  const size_t priLength = parsePri(frame, pri);
  if (priLength == 0) {
    out.message.assign(frame);
    error = "no <PRI> at the start: not a syslog message";
  } else {
    out.level = syslogSeverityLevel(pri % 8);
    const std::string_view rest = frame.substr(priLength);
    if (rest.starts_with("1 ")) {
      if (!parse5424(rest.substr(2), error)) {
        out.message.assign(frame);
        hostname_ = appName_ = procId_ = msgId_ = {};
        paramCount_ = 0;
        out.timestampUs = 0;
      }
    } else {
      parse3164(rest);
    }
  }

  assignName(out.host, !hostname_.empty() ? hostname_ : !peer.empty() ? peer : std::string_view(source.host));
  if (!appName_.empty()) {
    assignName(out.service, appName_);
  } else {
    out.service = source.service;
  }
  if (priLength != 0) fields.add("facility", syslogFacilityName(pri / 8));
  if (!procId_.empty()) fields.add("procid", procId_);
  if (!pid_.empty()) fields.add("pid", pid_);
  if (!msgId_.empty()) fields.add("msgid", msgId_);
  for (size_t i = 0; i < paramCount_; ++i) fields.add("sd.", params_[i].key, params_[i].value);
  if (!error.empty()) fields.add(kParseErrorField, error);
  fields.finish();
  return error.empty();
}

bool SyslogParser::parse5424(std::string_view rest, std::string_view& error) {
  std::string_view stamp, host, app, procId, msgId;
  if (!takeToken(rest, stamp) || !takeToken(rest, host) || !takeToken(rest, app) || !takeToken(rest, procId) ||
      !takeToken(rest, msgId) || rest.empty()) {
    error = "RFC 5424: the header ends early";
    return false;
  }
  if (stamp.empty() || host.empty() || app.empty() || procId.empty() || msgId.empty()) {
    error = "RFC 5424: an empty header field (two spaces)";
    return false;
  }
  if (stamp != "-") {
    const auto parsed = parseTimestamp(stamp);
    if (!parsed || stamp.size() <= 10) {  // a date alone is not a syslog TIMESTAMP
      error = "RFC 5424: bad TIMESTAMP";
      return false;
    }
    out_->timestampUs = *parsed;
  }
  auto given = [](std::string_view v) { return v == "-" ? std::string_view() : v; };
  hostname_ = given(host);
  appName_ = given(app);
  procId_ = given(procId);
  msgId_ = given(msgId);

  size_t used = 0;
  if (rest[0] == '-') {
    used = 1;
  } else if (rest[0] == '[') {
    used = parseStructuredData(rest, error);
  } else {
    error = "RFC 5424: STRUCTURED-DATA is neither '-' nor '[...]'";
  }
  if (used > 0 && used < rest.size() && rest[used] != ' ') {
    error = "RFC 5424: no space after STRUCTURED-DATA";
    used = 0;
  }
  if (used == 0) {  // broken structured data: the message is everything from there on
    paramCount_ = 0;
    out_->message.assign(rest);
    return true;
  }
  rest.remove_prefix(std::min(used + 1, rest.size()));
  if (rest.starts_with(kBom)) rest.remove_prefix(kBom.size());
  out_->message.assign(rest);
  return true;
}

size_t SyslogParser::parseStructuredData(std::string_view s, std::string_view& error) {
  paramCount_ = 0;
  size_t i = 0;
  auto fail = [&](std::string_view why) {
    error = why;
    paramCount_ = 0;
    return size_t{0};
  };
  auto nameEnd = [&](size_t from) {
    while (from < s.size() && s[from] != ' ' && s[from] != ']' && s[from] != '=' && s[from] != '"') ++from;
    return from;
  };
  while (i < s.size() && s[i] == '[') {
    const size_t idStart = i + 1;
    i = nameEnd(idStart);
    if (i == idStart || i >= s.size() || (s[i] != ' ' && s[i] != ']')) return fail("RFC 5424: bad SD-ID");
    const std::string_view id = s.substr(idStart, i - idStart);
    for (;;) {
      if (i >= s.size()) return fail("RFC 5424: STRUCTURED-DATA without its ']'");
      if (s[i] == ']') {
        ++i;
        break;
      }
      if (s[i] != ' ') return fail("RFC 5424: bad SD-PARAM");
      const size_t nameStart = ++i;
      i = nameEnd(nameStart);
      if (i == nameStart || i + 1 >= s.size() || s[i] != '=' || s[i + 1] != '"') {
        return fail("RFC 5424: bad SD-PARAM");
      }
      if (paramCount_ == params_.size()) params_.emplace_back();
      Param& p = params_[paramCount_++];
      p.key.assign(id);
      p.key += '.';
      p.key.append(s.substr(nameStart, i - nameStart));
      p.value.clear();
      i += 2;
      for (;;) {
        if (i >= s.size()) return fail("RFC 5424: PARAM-VALUE without its closing '\"'");
        const char c = s[i];
        if (c == '"') {
          ++i;
          break;
        }
        // RFC 5424 6.3.3: '"', '\' and ']' are escaped with '\'; a '\' before anything else is itself.
        if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == ']')) {
          p.value.push_back(s[i + 1]);
          i += 2;
          continue;
        }
        p.value.push_back(c);
        ++i;
      }
    }
  }
  return i;
}

void SyslogParser::parse3164(std::string_view s) {
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  bool timed = false;
  if (const size_t n = parseBsdTime(s, month, day, hour, minute, second, micros); n > 0) {
    out_->timestampUs = time3164(month, day, hour, minute, second) + micros;
    s.remove_prefix(std::min(n + 1, s.size()));
    timed = true;
  } else if (const size_t sp = s.find(' '); sp > 10 && sp != std::string_view::npos && s[10] == 'T') {
    // An RFC 3339 time in its place (rsyslog's forwarding formats).
    if (const auto t = parseTimestamp(s.substr(0, sp))) {
      out_->timestampUs = *t;
      s.remove_prefix(sp + 1);
      timed = true;
    }
  }
  // HOSTNAME follows a time; a token that looks like a TAG ("app:", "app[12]:") is one instead.
  if (timed) {
    const size_t sp = s.find(' ');
    if (sp != std::string_view::npos && sp > 0 && s[sp - 1] != ':') {
      const std::string_view token = s.substr(0, sp);
      bool host = true;
      for (unsigned char c : token) host = host && hostnameByte(c);
      if (host) {
        hostname_ = token;
        s.remove_prefix(sp + 1);
      }
    }
  }
  // TAG: up to 128 bytes ending in "[PID]" and/or ':', then a space or the end. Anything else is
  // the message (no service).
  size_t i = 0;
  while (i < s.size() && i < 128 && static_cast<unsigned char>(s[i]) > 0x20 && s[i] != '[' && s[i] != ':' &&
         s[i] != 0x7f) {
    ++i;
  }
  if (i > 0 && i < s.size()) {
    size_t end = 0;  // where the message starts
    if (s[i] == '[') {
      const size_t close = s.find(']', i);
      if (close != std::string_view::npos && close > i + 1 && close - i <= 129) {
        size_t j = close + 1;
        if (j < s.size() && s[j] == ':') ++j;
        if (j == s.size() || s[j] == ' ') {
          pid_ = s.substr(i + 1, close - i - 1);
          end = j;
        }
      }
    } else if (s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) {
      end = i + 1;
    }
    if (end > 0) {
      appName_ = s.substr(0, i);
      if (end < s.size()) ++end;  // the space
      s.remove_prefix(end);
    }
  }
  out_->message.assign(s);
}

int64_t SyslogParser::time3164(unsigned month, unsigned day, unsigned hour, unsigned minute, unsigned second) const {
  const time_t now = static_cast<time_t>(nowUs_ / 1'000'000);
  std::tm local{};
  localtime_r(&now, &local);
  auto at = [&](int year) -> int64_t {
    std::tm t{};
    t.tm_year = year;
    t.tm_mon = static_cast<int>(month) - 1;
    t.tm_mday = static_cast<int>(day);
    t.tm_hour = static_cast<int>(hour);
    t.tm_min = static_cast<int>(minute);
    t.tm_sec = static_cast<int>(second);
    t.tm_isdst = -1;  // the zone's rules decide
    return static_cast<int64_t>(std::mktime(&t));
  };
  // The latest year that does not put the time more than a week ahead of the producer's clock: a
  // syslog message reports what happened, so "Mar 3" read in November is this year's, not next
  // year's; "Dec 31" read on January 1st is last year's; "Jan 1 00:00:10" read on December 31st
  // at 23:59:50 (a sender's clock a little ahead) is next year's.
  constexpr int64_t kAhead = 7 * 86'400;
  int64_t best = at(local.tm_year - 1);
  for (int year : {local.tm_year + 1, local.tm_year}) {
    const int64_t t = at(year);
    if (t - now <= kAhead) {
      best = t;
      break;
    }
  }
  return best * 1'000'000;
}

}  // namespace logship
