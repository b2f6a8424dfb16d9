#include "console/records.hpp"

#include <regex.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "console/histogram.hpp"
#include "core/output_format.hpp"
#include "core/timestamp.hpp"
#include "search/file_order.hpp"
#include "search/file_scan.hpp"
#include "search/pattern.hpp"

namespace logship::console {
namespace {

// Facets: how many distinct values are counted per name (later ones are not), and how many of the
// most frequent are answered.
constexpr size_t kMaxFacetValues = 10'000;
constexpr size_t kMaxFieldKeys = 100;
constexpr size_t kTopValues = 10;
constexpr size_t kExportFlushBytes = 64 * 1024;

// Ends a scan early (context found its lines; an export's client went away).
struct StopScan {};

// regcomp'd once for highlighting: search::Pattern answers only whether a line matches.
class Highlighter {
 public:
  explicit Highlighter(const std::string& q) { active_ = !q.empty() && regcomp(&regex_, q.c_str(), REG_EXTENDED) == 0; }
  Highlighter(const Highlighter&) = delete;
  Highlighter& operator=(const Highlighter&) = delete;
  ~Highlighter() {
    if (active_) regfree(&regex_);
  }
  std::vector<std::pair<size_t, size_t>> ranges(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    size_t pos = 0;
    while (active_ && pos <= text.size() && out.size() < 100) {
      regmatch_t m[1];
      m[0].rm_so = static_cast<regoff_t>(pos);
      m[0].rm_eo = static_cast<regoff_t>(text.size());
      if (regexec(&regex_, text.data(), 1, m, REG_STARTEND | (pos > 0 ? REG_NOTBOL : 0)) != 0) break;
      const auto start = static_cast<size_t>(m[0].rm_so), end = static_cast<size_t>(m[0].rm_eo);
      if (end > start) out.emplace_back(start, end);
      pos = end > start ? end : end + 1;  // an empty match: move on
    }
    return out;
  }

 private:
  regex_t regex_{};
  bool active_ = false;
};

struct Located {
  Record record;
  size_t file = 0;  // index into the scanned files
  uint64_t offset = 0;
  uint64_t seq = 0;  // the order the scan found it in
};

Json locatedJson(const Located& l, const std::vector<std::string>& files) {
  Json j = recordJson(l.record);
  j["file"] = files[l.file];
  j["offset"] = l.offset;
  return j;
}

// Where each matching line is: the offset of `line` in its file, from the chunk it is in.
class LocatingSink : public search::FileMatchSink {
 public:
  void beginFile(const search::FileReport& report) override { format_ = report.format; }
  void beginChunk(std::string_view bytes, uint64_t offset) override {
    chunk_ = bytes.data();
    chunkOffset_ = offset;
  }
  void match(std::string_view line, const LineParts& parts) override {
    onRecord(recordFromLine(format_, parts), chunkOffset_ + static_cast<uint64_t>(line.data() - chunk_));
  }

 protected:
  virtual void onRecord(Record&& r, uint64_t offset) = 0;

 private:
  OutputFormat format_ = OutputFormat::Text;
  const char* chunk_ = nullptr;
  uint64_t chunkOffset_ = 0;
};

class Counter {
 public:
  void add(const std::string& value) {
    auto it = counts_.find(value);
    if (it != counts_.end()) {
      ++it->second;
    } else if (counts_.size() < kMaxFacetValues) {
      counts_.emplace(value, 1);
    }
  }
  Json top() const {
    std::vector<std::pair<std::string, uint64_t>> v(counts_.begin(), counts_.end());
    const size_t n = std::min(kTopValues, v.size());
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    Json j = Json::object();
    for (size_t i = 0; i < n; ++i) j[v[i].first] = v[i].second;
    return j;
  }

 private:
  std::unordered_map<std::string, uint64_t> counts_;
};

struct Facets {
  std::array<uint64_t, 6> levels{};
  Counter services, hosts;
  std::map<std::string, Counter> fields;

  void add(const Record& r) {
    ++levels[static_cast<size_t>(r.level)];
    services.add(r.service);
    hosts.add(r.host);
    for (const Field& f : r.fields) {
      auto it = fields.find(f.key);
      if (it == fields.end() && fields.size() >= kMaxFieldKeys) continue;
      (it != fields.end() ? it->second : fields[f.key]).add(f.value);
    }
  }
  Json json() const {
    Json level = Json::object();
    for (size_t i = 0; i < levels.size(); ++i) {
      if (levels[i] > 0) level[std::string(levelName(static_cast<Level>(i)))] = levels[i];
    }
    Json f = Json::object();
    for (const auto& [key, counter] : fields) f[key] = counter.top();
    return {{"level", level}, {"service", services.top()}, {"host", hosts.top()}, {"fields", f}};
  }
};

// The search pass: total, histogram and facets of every match, and the newest skip + limit matches
// by time (later in the scan first among equal times: files are scanned oldest first).
class SearchSink final : public LocatingSink {
 public:
  SearchSink(size_t keep, size_t& fileIndex) : keep_(keep), fileIndex_(fileIndex) {}
  uint64_t total = 0;
  Histogram histogram;
  Facets facets;

  // The kept matches, newest first.
  std::vector<Located> newestFirst() {
    std::sort_heap(heap_.begin(), heap_.end(), newer);
    return std::move(heap_);
  }

 private:
  // A min-heap on (time, scan order): its top is the oldest kept, replaced by anything newer.
  static bool newer(const Located& a, const Located& b) {
    return a.record.timestampUs != b.record.timestampUs ? a.record.timestampUs > b.record.timestampUs : a.seq > b.seq;
  }
  void onRecord(Record&& r, uint64_t offset) override {
    ++total;
    if (r.timestampUs != 0) histogram.add(r.timestampUs / 1000);
    facets.add(r);
    if (keep_ == 0) return;
    Located l{std::move(r), fileIndex_, offset, total};
    if (heap_.size() == keep_) {
      if (!newer(l, heap_.front())) return;
      std::pop_heap(heap_.begin(), heap_.end(), newer);
      heap_.back() = std::move(l);
    } else {
      heap_.push_back(std::move(l));
    }
    std::push_heap(heap_.begin(), heap_.end(), newer);
  }
  size_t keep_;
  size_t& fileIndex_;
  std::vector<Located> heap_;
};

}  // namespace

std::unique_ptr<search::Pattern> compilePattern(const search::Query& query) {
  if (query.grep.empty()) return nullptr;
  try {
    return std::make_unique<search::Pattern>(query.grep);
  } catch (const UsageError& e) {
    std::string why = e.what();
    if (why.starts_with("--grep: ")) why.erase(0, 8);
    throw ApiError(400, fmt::format("q: {}", why));
  }
}

namespace {

// Scans `files` in order into `sink`; `index` follows the file being scanned. The files that could
// not be read are returned, one line each (the others are still scanned).
Json scanAll(const std::vector<std::string>& files, const search::Query& query, search::FileMatchSink& sink,
             size_t& index) {
  const std::unique_ptr<search::Pattern> pattern = compilePattern(query);
  Json warnings = Json::array();
  for (index = 0; index < files.size(); ++index) {
    try {
      search::scanFile(search::compressedMeanwhile(files[index]), query, pattern.get(), search::ScanOptions{}, sink);
    } catch (const search::FileError& e) {
      warnings.push_back(e.what());
    }
  }
  return warnings;
}

Json histogramJson(const Histogram& h, const search::Query& q) {
  auto ms = [](const std::optional<int64_t>& us) { return us ? std::optional(*us / 1000) : std::nullopt; };
  const HistogramResult r = h.result(ms(q.sinceUs), ms(q.untilUs));
  return {{"from", r.fromMs}, {"to", r.toMs}, {"bucket_ms", r.bucketMs}, {"counts", r.counts}};
}

}  // namespace

Json recordJson(const Record& r) {
  Json fields = Json::object();
  for (const Field& f : r.fields) fields[f.key] = f.value;
  return {{"time", r.timestampUs != 0 ? formatTimestamp(r.timestampUs) : std::string()},
          {"time_ms", r.timestampUs / 1000},
          {"level", levelName(r.level)},
          {"service", r.service},
          {"host", r.host},
          {"message", r.message},
          {"fields", std::move(fields)}};
}

std::vector<std::pair<size_t, size_t>> matchRanges(const std::string& q, std::string_view text) {
  return Highlighter(q).ranges(text);
}

Json searchFiles(const FileSet& fileSet, const search::Query& filters, const Page& page) {
  const std::vector<std::string> files = fileSet.current();
  search::Query query = filters;
  if (page.untilUs && (!query.untilUs || *page.untilUs < *query.untilUs)) query.untilUs = page.untilUs;
  size_t index = 0;
  SearchSink sink(static_cast<size_t>(page.skip + page.limit), index);
  Json warnings = scanAll(files, query, sink, index);
  const Highlighter highlighter(query.grep);
  Json records = Json::array();
  const std::vector<Located> newest = sink.newestFirst();
  for (size_t i = static_cast<size_t>(std::min<uint64_t>(page.skip, newest.size())); i < newest.size(); ++i) {
    Json j = locatedJson(newest[i], files);
    j["match"] = highlighter.ranges(newest[i].record.message);
    records.push_back(std::move(j));
  }
  const auto next = nextCursor(page, sink.total, newest.empty() ? 0 : newest.front().record.timestampUs);
  Json out = {{"records", std::move(records)},
              {"next_cursor", next ? Json(*next) : Json()},
              {"total", sink.total},
              {"histogram", histogramJson(sink.histogram, query)},
              {"facets", sink.facets.json()}};
  if (!warnings.empty()) out["warnings"] = std::move(warnings);
  return out;
}

namespace {

class ContextSink final : public LocatingSink {
 public:
  ContextSink(uint64_t target, uint64_t before, uint64_t after) : target_(target), before_(before), after_(after) {}
  std::deque<Located> lines;
  bool found = false;

 private:
  void onRecord(Record&& r, uint64_t offset) override {
    if (!found) {
      if (offset > target_) throw StopScan{};  // no line starts at the target
      found = offset == target_;
      if (!found && before_ == 0) return;
      if (!found && lines.size() == before_) lines.pop_front();
      lines.push_back(Located{std::move(r), 0, offset});
      return;
    }
    if (after_ == 0) throw StopScan{};
    lines.push_back(Located{std::move(r), 0, offset});
    --after_;
  }
  uint64_t target_, before_, after_;
};

}  // namespace

Json contextOf(const std::string& file, uint64_t offset, uint64_t before, uint64_t after) {
  ContextSink sink(offset, before, after);
  try {
    search::scanFile(file, search::Query{}, nullptr, search::ScanOptions{}, sink);
  } catch (const StopScan&) {
  } catch (const search::FileError& e) {
    throw ApiError(500, e.what());
  }
  if (!sink.found) throw ApiError(404, fmt::format("no record starts at offset {} of that file", offset));
  Json records = Json::array();
  const std::vector<std::string> files{file};
  for (const Located& l : sink.lines) records.push_back(locatedJson(l, files));
  return {{"records", std::move(records)}};
}

void appendCsvField(std::string& out, std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

namespace {

class ExportSink final : public LocatingSink {
 public:
  ExportSink(ExportFormat format, const std::function<bool(std::string_view)>& write,
             const std::vector<std::string>& files, size_t& index)
      : format_(format), write_(write), files_(files), index_(index) {
    if (format_ == ExportFormat::Csv) buf_ = "time,level,service,host,message,fields,file,offset\r\n";
  }
  void flush() {
    if (!buf_.empty() && !write_(buf_)) throw StopScan{};
    buf_.clear();
  }

 private:
  void onRecord(Record&& r, uint64_t offset) override {
    Json j = recordJson(r);
    if (format_ == ExportFormat::Ndjson) {
      j["file"] = files_[index_];
      j["offset"] = offset;
      buf_ += j.dump(-1, ' ', false, Json::error_handler_t::replace);
    } else {
      for (const char* key : {"time", "level", "service", "host", "message"}) {
        appendCsvField(buf_, j[key].get_ref<const std::string&>());
        buf_ += ',';
      }
      appendCsvField(buf_, j["fields"].dump(-1, ' ', false, Json::error_handler_t::replace));
      buf_ += ',';
      appendCsvField(buf_, files_[index_]);
      buf_ += fmt::format(",{}", offset);
    }
    buf_ += format_ == ExportFormat::Csv ? "\r\n" : "\n";
    if (buf_.size() >= kExportFlushBytes) flush();
  }
  ExportFormat format_;
  const std::function<bool(std::string_view)>& write_;
  const std::vector<std::string>& files_;
  size_t& index_;
  std::string buf_;
};

}  // namespace

void exportFiles(const FileSet& fileSet, const search::Query& query, ExportFormat format,
                 const std::function<bool(std::string_view)>& write) {
  const std::vector<std::string> files = fileSet.current();
  size_t index = 0;
  ExportSink sink(format, write, files, index);
  try {
    scanAll(files, query, sink, index);
    sink.flush();
  } catch (const StopScan&) {
  }
}

}  // namespace logship::console
