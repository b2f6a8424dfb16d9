#pragma once
// One syslog message (a UDP datagram, or a TCP frame) -> one record (docs/FORMATS.md, "Syslog").
// Pure: no I/O; the clock and the local time zone come in through `nowUs` and the TZ environment.
//
//   RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
//   RFC 3164: <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG   (and the usual variants)
//
// Severity -> level, facility -> field `facility`, HOSTNAME -> host, APP-NAME / TAG -> service,
// PROCID -> `procid`, MSGID -> `msgid`, [PID] -> `pid`, SD-PARAMs -> `sd.ID.NAME`. A message that is
// neither (no <PRI>, or a broken RFC 5424 header) is never dropped: the record carries the text as
// received and a field parse_error saying what was wrong.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.hpp"

namespace logship {

// The level of a syslog severity (0 emerg ... 7 debug): 0-2 fatal, 3 error, 4 warn, 5-6 info, 7 debug.
Level syslogSeverityLevel(unsigned severity);
// "kern", "user", ..., "local7" for facility 0-23.
std::string_view syslogFacilityName(unsigned facility);

class SyslogParser {
 public:
  // Makes `out` from `frame` (trailing LF, CR and NUL removed). `source` gives what the message does
  // not say (the template: --level, --service, --field); the host is HOSTNAME, else `peer` (the
  // sender's address), else the source's. `nowUs` places an RFC 3164 time (no year, no zone: local
  // time, in the year that puts it nearest to now). A time the message does not give is 0 (now).
  // Returns false when the record carries parse_error.
  bool parse(std::string_view frame, const Record& source, std::string_view peer, int64_t nowUs, Record& out);

 private:
  struct Param {
    std::string key;  // "ID.NAME", not yet sanitised
    std::string value;
  };
  bool parse5424(std::string_view rest, std::string_view& error);
  void parse3164(std::string_view rest);
  // Parses STRUCTURED-DATA at the start of `s` into params_; returns the bytes it took, or 0 with
  // `error` set.
  size_t parseStructuredData(std::string_view s, std::string_view& error);
  int64_t time3164(unsigned month, unsigned day, unsigned hour, unsigned minute, unsigned second) const;

  // The message being parsed.
  Record* out_ = nullptr;
  int64_t nowUs_ = 0;
  std::string_view hostname_, appName_, procId_, msgId_, pid_;
  std::vector<Param> params_;  // reused
  size_t paramCount_ = 0;
};

}  // namespace logship
