#include "search/scanner.hpp"

#include <fnmatch.h>

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
  for (const auto& h : query.hosts) {
    if (h.find_first_of("*?[\\") != std::string::npos) {
      hostGlobs_.push_back(h);
    } else {
      hostNames_.push_back(encodeForLine(format, h));
    }
  }
}

bool Scanner::hostMatches(std::string_view host) const {
  for (const auto& h : hostNames_) {
    if (host == h) return true;
  }
  if (hostGlobs_.empty()) return false;
  hostBuffer_.clear();
  decodeLinePart(format_, host, hostBuffer_);
  for (const auto& g : hostGlobs_) {
    if (::fnmatch(g.c_str(), hostBuffer_.c_str(), 0) == 0) return true;
  }
  return false;
}

bool Scanner::meetsRecordConditions(const LineParts& parts) const {
  if (!needsParts_) return true;
  // Fixed-width RFC 3339 UTC: byte order is time order.
  if (!since_.empty() && parts.timestamp < std::string_view(since_)) return false;
  if (!until_.empty() && parts.timestamp >= std::string_view(until_)) return false;
  if (hasMinLevel_ && parts.level < minLevel_) return false;
  if (!services_.empty()) {
    bool any = false;
    for (const auto& s : services_) any = any || parts.service == s;
    if (!any) return false;
  }
  if ((!hostNames_.empty() || !hostGlobs_.empty()) && !hostMatches(parts.host)) return false;
  return true;
}

size_t Scanner::scan(std::string_view bytes, bool final, MatchSink& sink) {
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  const char* p = begin;
  LineParts parts;
  // With a literal every match must contain, one memmem over many lines finds the next line that
  // can match; the lines before it are still parsed (they are counted) but never reach the pattern.
  const std::string* literal = pattern_ != nullptr && !pattern_->literal().empty() ? &pattern_->literal() : nullptr;
  const char* hit = nullptr;  // the next occurrence of the literal at or after p (or end), once looked for
  while (p < end) {
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      if (!final) break;
      nl = end;  // the last line has no '\n'
    }
    const std::string_view line(p, static_cast<size_t>(nl - p));
    ++counts_.lines;
    bool match = false;
    if (!parseLine(format_, line, parts)) {
      if (++counts_.unparsable == 1) counts_.firstUnparsableLine = counts_.lines;
    } else if (!meetsRecordConditions(parts)) {
      // cheap conditions first: most lines end here
    } else if (pattern_ == nullptr) {
      match = true;
    } else if (literal != nullptr) {
      if (hit == nullptr || hit < p) {
        const void* found = memmem(p, static_cast<size_t>(end - p), literal->data(), literal->size());
        hit = found == nullptr ? end : static_cast<const char*>(found);
      }
      match = hit < nl && pattern_->matchesContainingLiteral(line);
    } else {
      match = pattern_->matches(line);
    }
    if (match) {
      ++counts_.matches;
      sink.match(line, parts);
    }
    p = nl == end ? end : nl + 1;
  }
  return static_cast<size_t>(p - begin);
}

}  // namespace logship::search
