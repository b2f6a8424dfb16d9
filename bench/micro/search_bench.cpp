// logctl search's scanner: bytes per second over 64 MB of output lines, per format and condition,
// and over whole files (mapped plain, streamed zstd). Lines are what the aggregator writes:
// appendFormatted over varied records (six levels, 20 services, messages of 40 to 200 bytes).
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "core/output_format.hpp"
#include "search/file_scan.hpp"

using namespace logship;
using namespace logship::search;

namespace {

constexpr size_t kBytes = 64u << 20;
constexpr int64_t kT0 = 1'764'000'000'000'000;

const std::string& corpus(OutputFormat f) {
  static std::string cache[3];
  std::string& s = cache[static_cast<int>(f)];
  if (!s.empty()) return s;
  std::mt19937 rng(42);
  const char* words[] = {"request",    "served",  "timeout",        "db",  "user", "cache",   "miss",
                         "retry",      "GET",     "/api/v1/orders", "200", "503",  "latency", "ms",
                         "connection", "refused", "payment",        "ok"};
  Record r;
  r.host = "web-01.example";
  int64_t ts = kT0;
  while (s.size() < kBytes) {
    ts += 1000 + rng() % 5000;
    r.timestampUs = ts;
    r.level = static_cast<Level>(rng() % 6);
    r.service = "svc-" + std::to_string(rng() % 20);
    r.message.clear();
    const size_t len = 40 + rng() % 160;
    while (r.message.size() < len) {
      r.message += words[rng() % (sizeof words / sizeof *words)];
      r.message += ' ';
    }
    r.fields.clear();
    if (rng() % 4 == 0) r.fields = {{"order", std::to_string(rng())}};
    appendFormatted(s, f, r);
  }
  return s;
}

class Count final : public FileMatchSink {
 public:
  void beginFile(const FileReport&) override {}
  void match(std::string_view line, const LineParts&) override { bytes += line.size(); }
  size_t bytes = 0;
};

void scanCorpus(benchmark::State& state, OutputFormat f, const Query& q) {
  const std::string& data = corpus(f);
  std::unique_ptr<Pattern> pattern;
  if (!q.grep.empty()) pattern = std::make_unique<Pattern>(q.grep);
  uint64_t matches = 0;
  for (auto _ : state) {
    Scanner s(q, pattern.get(), f);
    Count sink;
    s.scan(data, true, sink);
    matches = s.counts().matches;
    benchmark::DoNotOptimize(sink.bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.counters["matches"] = static_cast<double>(matches);
}

Query levelQuery() {
  Query q;
  q.minLevel = Level::Error;
  return q;
}
Query timeQuery() {
  Query q;
  q.sinceUs = kT0 + 60'000'000;
  q.untilUs = kT0 + 120'000'000;
  return q;
}
Query serviceQuery() {
  Query q;
  q.services = {"svc-7"};
  return q;
}
Query literalQuery() {
  Query q;
  q.grep = "connection refused";
  return q;
}
Query regexQuery() {
  Query q;
  q.grep = "payment.*(503|timeout)";
  return q;
}
Query combined() {
  Query q = levelQuery();
  q.services = {"svc-7"};
  q.grep = "timeout";
  return q;
}

void BM_Text_All(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, Query{}); }
void BM_Text_Level(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, levelQuery()); }
void BM_Text_Time(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, timeQuery()); }
void BM_Text_Service(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, serviceQuery()); }
void BM_Text_Literal(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, literalQuery()); }
void BM_Text_Regex(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, regexQuery()); }
void BM_Text_Combined(benchmark::State& s) { scanCorpus(s, OutputFormat::Text, combined()); }
void BM_Json_Level(benchmark::State& s) { scanCorpus(s, OutputFormat::Json, levelQuery()); }
void BM_Json_Service(benchmark::State& s) { scanCorpus(s, OutputFormat::Json, serviceQuery()); }
void BM_Raw_Literal(benchmark::State& s) { scanCorpus(s, OutputFormat::Raw, literalQuery()); }
BENCHMARK(BM_Text_All)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Level)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Time)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Service)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Literal)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Regex)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Text_Combined)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Json_Level)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Json_Service)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Raw_Literal)->Unit(benchmark::kMillisecond);

// Whole files through scanFile: a mapped plain file (in the page cache after the first run) and
// the same lines as a zstd file (level 3, as `zstd` does by default), decompressed as a stream.
std::string tempFile(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/logship-bench-" + std::to_string(getpid()) + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void scanWholeFile(benchmark::State& state, bool zstd) {
  const std::string& data = corpus(OutputFormat::Text);
  std::string bytes = data;
  if (zstd) {
    bytes.assign(ZSTD_compressBound(data.size()), '\0');
    bytes.resize(ZSTD_compress(bytes.data(), bytes.size(), data.data(), data.size(), 3));
  }
  const std::string path = tempFile(zstd ? ".zst" : ".log", bytes);
  const Query q = levelQuery();
  for (auto _ : state) {
    Count sink;
    const FileReport r = scanFile(path, q, nullptr, ScanOptions{}, sink);
    benchmark::DoNotOptimize(r.counts.matches);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  ::unlink(path.c_str());
}

void BM_File_Plain_Level(benchmark::State& s) { scanWholeFile(s, false); }
void BM_File_Zstd_Level(benchmark::State& s) { scanWholeFile(s, true); }
BENCHMARK(BM_File_Plain_Level)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_File_Zstd_Level)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
