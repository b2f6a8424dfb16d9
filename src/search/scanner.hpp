#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/output_format.hpp"
#include "search/pattern.hpp"
#include "search/query.hpp"

namespace logship::search {

// Receives the lines that match. The views point into the scanner's input and are valid only
// during the call.
class MatchSink {
 public:
  virtual ~MatchSink() = default;
  // `line` is without its '\n'; `parts` are its parts in the scanned format.
  virtual void match(std::string_view line, const LineParts& parts) = 0;
};

struct ScanCounts {
  uint64_t lines = 0;                // lines looked at
  uint64_t matches = 0;              // lines handed to the sink
  uint64_t unparsable = 0;           // lines not in the format (never matched)
  uint64_t firstUnparsableLine = 0;  // 1-based line number of the first of them; 0 = none
};

// Scans the lines of one file in one output format against a query, without allocating per line:
// every line is split with parseLine (views into the input), and the conditions compare bytes in
// the format's own encoding (the query's timestamps and services are encoded once, up front). A line
// that does not parse in the format is counted and never matches: it cannot be judged.
class Scanner {
 public:
  // `pattern` (the query's --grep, compiled once for all files) may be null when query.grep is "".
  Scanner(const Query& query, const Pattern* pattern, OutputFormat format);

  // Scans the complete lines at the start of `bytes` and returns how many bytes they took (up to
  // and including the last '\n'). With `final`, the rest after the last '\n' is a line too (a file
  // that does not end in '\n') and everything is consumed. Call again with the unconsumed rest
  // followed by more input.
  size_t scan(std::string_view bytes, bool final, MatchSink& sink);

  const ScanCounts& counts() const { return counts_; }
  OutputFormat format() const { return format_; }

 private:
  // The conditions on timestamp, level and service (cheap: compared in place).
  bool meetsRecordConditions(const LineParts& parts) const;

  OutputFormat format_;
  const Pattern* pattern_;
  bool needsParts_;
  std::string since_;  // in the line's timestamp form; "" = no bound
  std::string until_;
  bool hasMinLevel_;
  Level minLevel_;
  std::vector<std::string> services_;  // encoded as they appear in lines of format_
  // --host: names encoded as they appear in lines (compared in place), globs matched on the
  // decoded host (decoded into hostBuffer_, which keeps its capacity).
  std::vector<std::string> hostNames_;
  std::vector<std::string> hostGlobs_;
  mutable std::string hostBuffer_;
  bool hostMatches(std::string_view host) const;
  ScanCounts counts_;
};

}  // namespace logship::search
