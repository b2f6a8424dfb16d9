#include "search/scanner.hpp"

#include <cstring>

#include "core/timestamp.hpp"

namespace logship::search {

Scanner::Scanner(const Query& query, const Pattern* pattern, OutputFormat format)
    : format_(format),
      pattern_(query.grep.empty() ? nullptr : pattern),
      needsParts_(query.needsRecordParts()),
      hasMinLevel_(query.minLevel.has_value()),
      minLevel_(query.minLevel.value_or(Level::Trace)) {
  if (query.sinceUs) since_ = formatTimestamp(*query.sinceUs);
  if (query.untilUs) until_ = formatTimestamp(*query.untilUs);
  for (const auto& s : query.services) services_.push_back(encodeForLine(format, s));
}

bool Scanner::wanted(std::string_view line, const LineParts& parts) const {
  if (needsParts_) {
    // Fixed-width RFC 3339 UTC: byte order is time order.
    if (!since_.empty() && parts.timestamp < std::string_view(since_)) return false;
    if (!until_.empty() && parts.timestamp >= std::string_view(until_)) return false;
    if (hasMinLevel_ && parts.level < minLevel_) return false;
    if (!services_.empty()) {
      bool any = false;
      for (const auto& s : services_) any = any || parts.service == s;
      if (!any) return false;
    }
  }
  return pattern_ == nullptr || pattern_->matches(line);
}

size_t Scanner::scan(std::string_view bytes, bool final, MatchSink& sink) {
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  const char* p = begin;
  LineParts parts;
  while (p < end) {
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      if (!final) break;
      nl = end;  // the last line has no '\n'
    }
    const std::string_view line(p, static_cast<size_t>(nl - p));
    ++counts_.lines;
    if (!parseLine(format_, line, parts)) {
      if (++counts_.unparsable == 1) counts_.firstUnparsableLine = counts_.lines;
    } else if (wanted(line, parts)) {
      ++counts_.matches;
      sink.match(line, parts);
    }
    p = nl == end ? end : nl + 1;
  }
  return static_cast<size_t>(p - begin);
}

}  // namespace logship::search
