// logctl search: greps aggregated files (any output format, plain or zstd) by time, level, service
// and regular expression. The scanning is in src/search/; this file is the terminal side: output
// buffering, warnings, progress, exit status.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/io.hpp"
#include "core/progress_line.hpp"
#include "core/timestamp.hpp"
#include "ctl/commands.hpp"
#include "search/file_order.hpp"
#include "search/file_scan.hpp"

namespace logship::ctl {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string displayName(const std::string& path) { return path == "-" ? "(standard input)" : escaped(path); }

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// The status line on stderr while files are scanned (only on a terminal), and the summary.
class Progress {
 public:
  Progress(bool enabled, size_t files) : line_(enabled), files_(files), started_(SteadyClock::now()) {}

  bool enabled() const { return line_.enabled(); }

  void update(size_t index, const search::FileReport& r, uint64_t matchesBefore, bool force = false) {
    if (!force && !line_.due()) return;
    if (!line_.enabled()) return;
    std::string of = r.fileBytes > 0 ? fmt::format(" of {}", megabytes(r.fileBytes)) : "";
    line_.draw(fmt::format("logctl search: file {}/{} {}: {}{}, {} matches", index + 1, files_, displayName(r.path),
                           megabytes(r.bytesRead), of, matchesBefore + r.counts.matches),
               force);
  }

  void clear() { line_.clear(); }

  void summary(size_t files, uint64_t bytes, uint64_t matches) {
    if (!line_.enabled()) return;
    line_.clear();
    const double secs = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    fmt::print(stderr, "logctl search: {} files, {} in {:.2f} s ({:.0f} MB/s), {} matches\n", files, megabytes(bytes),
               secs, secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0.0, matches);
  }

 private:
  ProgressLine line_;
  size_t files_;
  SteadyClock::time_point started_;
};

// stdout in large writes; on a terminal after every line, so matches show as they are found.
class Output {
 public:
  explicit Output(Progress& progress) : progress_(progress), interactive_(::isatty(STDOUT_FILENO) == 1) {
    buf_.reserve(kFlushAt + 64 * 1024);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() {
    try {
      flush();
    } catch (...) {  // nothing sensible left to do
    }
  }

  std::string& buffer() { return buf_; }
  void lineDone() {
    if (interactive_ || buf_.size() >= kFlushAt) flush();
  }
  void flush() {
    if (buf_.empty()) return;
    progress_.clear();
    const bool ok = writeAll(STDOUT_FILENO, buf_);
    const int code = errno;
    buf_.clear();
    if (!ok) throw Error(fmt::format("cannot write to standard output: {}", std::strerror(code)));
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  Progress& progress_;
  bool interactive_;
  std::string buf_;
};

// Prints matches: the lines as they are, or (--json) one JSON object per record, the same object
// the aggregator's json format writes (raw lines have only a message).
class PrintSink final : public search::FileMatchSink {
 public:
  PrintSink(Output& out, bool json) : out_(out), json_(json) {}

  void beginFile(const search::FileReport& report) override { format_ = report.format; }

  void match(std::string_view line, const LineParts& parts) override {
    std::string& out = out_.buffer();
    if (!json_ || format_ == OutputFormat::Json) {
      out.append(line);
      out += '\n';
    } else if (format_ == OutputFormat::Text) {
      appendFormatted(out, OutputFormat::Json, recordFromLine(format_, parts));
    } else {
      const Record r = recordFromLine(format_, parts);
      out += "{\"message\":\"";
      out += encodeForLine(OutputFormat::Json, r.message);
      out += "\"}\n";
    }
    out_.lineDone();
  }

 private:
  Output& out_;
  bool json_;
  OutputFormat format_ = OutputFormat::Text;
};

search::Query buildQuery(const SearchRequest& r) {
  search::Query q;
  const int64_t now = nowMicros();
  if (!r.since.empty()) q.sinceUs = search::parseTimeBound("--since", r.since, now);
  if (!r.until.empty()) q.untilUs = search::parseTimeBound("--until", r.until, now);
  if (q.sinceUs && q.untilUs && *q.sinceUs >= *q.untilUs) {
    throw UsageError(fmt::format("--since ({}) is not before --until ({}): nothing could match",
                                 formatTimestamp(*q.sinceUs), formatTimestamp(*q.untilUs)));
  }
  if (!r.level.empty()) {
    q.minLevel = parseLevel(r.level);
    if (!q.minLevel) {
      throw UsageError(
          fmt::format("--level: unknown level '{}' (trace, debug, info, warn, error, fatal)", escaped(r.level)));
    }
  }
  q.services = r.services;
  for (const auto& h : r.hosts) {
    if (h.empty()) throw UsageError("--host: empty name");
  }
  q.hosts = r.hosts;
  q.grep = r.grep;
  return q;
}

void warn(Progress& progress, const std::string& text) {
  progress.clear();
  fmt::print(stderr, "logctl: warning: {}\n", text);
}

}  // namespace

int search(const SearchRequest& request) {
  const search::Query query = buildQuery(request);
  std::unique_ptr<search::Pattern> pattern;
  if (!query.grep.empty()) pattern = std::make_unique<search::Pattern>(query.grep);
  search::ScanOptions options;
  if (request.format != "auto") {
    options.format = parseOutputFormat(request.format);
    if (!options.format) {
      throw UsageError(fmt::format("--format: unknown format '{}' (auto, text, json, raw)", escaped(request.format)));
    }
  }
  if (request.files.empty()) throw UsageError("give at least one FILE (- for standard input)");
  // The files of one output (rotated ones and the output) in time order; journals of a given
  // output skipped.
  const std::vector<std::string> files = search::orderFiles(request.files, options.format.has_value()).files;

  uint64_t totalBytes = 0;
  for (const auto& f : files) {
    struct stat st {};
    if (f != "-" && ::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) totalBytes += static_cast<uint64_t>(st.st_size);
  }
  constexpr uint64_t kLargeInput = 64ull << 20;
  Progress progress(files.size() > 1 || totalBytes >= kLargeInput,  // and stderr a terminal
                    files.size());
  Output out(progress);
  PrintSink sink(out, request.json);

  uint64_t matches = 0, scannedBytes = 0;
  size_t scannedFiles = 0;
  bool failed = false;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string path = files[i];
    if (!options.format && path.size() > 4 && (path.ends_with(".ids") || path.ends_with(".ids.tmp"))) {
      warn(progress, fmt::format("{}: skipped: the name says it is an aggregator's duplicate journal (OUTPUT.ids), "
                                 "not a log (give --format to scan it anyway)",
                                 displayName(path)));
      continue;
    }
    path = search::compressedMeanwhile(path);
    options.progress = [&](const search::FileReport& r) { progress.update(i, r, matches); };
    try {
      const search::FileReport r = search::scanFile(path, query, pattern.get(), options, sink);
      ++scannedFiles;
      matches += r.counts.matches;
      scannedBytes += r.bytesRead;
      progress.update(i, r, matches - r.counts.matches, true);
      if (r.lacksRecordParts) {
        warn(progress, fmt::format("{}: in the raw format (message only), which has no timestamp, level or service: "
                                   "--since, --until, --level and --service cannot apply, so none of its lines match",
                                   displayName(path)));
      }
      if (r.counts.unparsable > 0) {
        warn(
            progress,
            fmt::format("{}: {} of {} lines are not in the {} format{} (the first is line {}); they were not matched",
                        displayName(path), r.counts.unparsable, r.counts.lines, outputFormatName(r.format),
                        r.formatDetected ? " it was detected in" : " given by --format", r.counts.firstUnparsableLine));
      }
    } catch (const search::FileError& e) {
      out.flush();  // the matches found before the error come first
      progress.clear();
      fmt::print(stderr, "logctl: error: {}\n", e.what());
      failed = true;
    }
  }
  out.flush();
  progress.summary(scannedFiles, scannedBytes, matches);
  if (failed) return 2;
  return matches > 0 ? 0 : 1;
}

}  // namespace logship::ctl
