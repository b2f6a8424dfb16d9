// logctl search's engine (src/search/): the scanner and its conditions in every output format,
// patterns, time bounds, format detection, and whole files: plain (mapped) and zstd (made here
// with libzstd), empty, without a final newline, with lines that do not parse, read in pieces.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/output_format.hpp"
#include "core/timestamp.hpp"
#include "search/file_scan.hpp"
#include "search/pattern.hpp"
#include "search/query.hpp"
#include "search/scanner.hpp"
#include "support/temp_dir.hpp"

using namespace logship;
using namespace logship::search;

namespace {

constexpr int64_t kT0 = 1'764'000'000'000'000;  // 2025-11-24T16:00:00Z
constexpr int64_t kSecond = 1'000'000;

// Ten records: one per second from kT0, levels cycling trace..fatal, services "web", "db" and an
// awkward one, messages that tempt the filters.
std::vector<Record> records() {
  std::vector<Record> out;
  const char* services[] = {"web", "db", "we\"b \\ caf\xc3\xa9\n"};
  for (int i = 0; i < 10; ++i) {
    Record r;
    r.timestampUs = kT0 + i * kSecond;
    r.level = static_cast<Level>(i % 6);
    r.service = services[i % 3];
    r.host = "host" + std::to_string(i % 2);
    r.message =
        "message " + std::to_string(i) + (i == 4 ? " ERROR timeout\nFAKE 2025-11-24T16:00:00.000000Z FATAL" : "");
    if (i % 4 == 0) r.fields = {{"attempt", std::to_string(i)}};
    out.push_back(r);
  }
  return out;
}

std::string fileOf(OutputFormat f, const std::vector<Record>& rs) {
  std::string out;
  for (const auto& r : rs) appendFormatted(out, f, r);
  return out;
}

class Collect final : public FileMatchSink {
 public:
  void beginFile(const FileReport& r) override {
    ++files;
    format = r.format;
  }
  void match(std::string_view line, const LineParts& parts) override {
    lines.emplace_back(line);
    messages.push_back(recordFromLine(format, parts).message);
  }
  int files = 0;
  OutputFormat format = OutputFormat::Text;
  std::vector<std::string> lines;
  std::vector<std::string> messages;
};

// Scans `bytes` through a Scanner fed in pieces of `piece` bytes (as a stream would be).
ScanCounts scanPieces(const Query& q, OutputFormat f, const std::string& bytes, size_t piece, Collect& sink) {
  std::unique_ptr<Pattern> pattern;
  if (!q.grep.empty()) pattern = std::make_unique<Pattern>(q.grep);
  Scanner s(q, pattern.get(), f);
  sink.format = f;
  std::string pending;
  for (size_t pos = 0; pos < bytes.size(); pos += piece) {
    pending += bytes.substr(pos, piece);
    pending.erase(0, s.scan(pending, false, sink));
  }
  EXPECT_EQ(s.scan(pending, true, sink), pending.size());
  return s.counts();
}

// Message numbers (the i of "message i") of the matching records.
std::vector<int> matched(const Query& q, OutputFormat f, size_t piece = 1 << 20) {
  Collect sink;
  const std::string bytes = fileOf(f, records());
  const ScanCounts c = scanPieces(q, f, bytes, piece, sink);
  EXPECT_EQ(c.lines, 10u);
  EXPECT_EQ(c.unparsable, 0u);
  EXPECT_EQ(c.matches, sink.lines.size());
  std::vector<int> ids;
  for (const auto& m : sink.messages) ids.push_back(std::atoi(m.c_str() + 8));
  return ids;
}

constexpr OutputFormat kRecordFormats[] = {OutputFormat::Text, OutputFormat::Json};

using logship::testing::TempDir;

// As the zstd command line does: with a content checksum in each frame.
std::string zstdCompress(const std::string& bytes, int level = 3) {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  const size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), bytes.data(), bytes.size());
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

FileReport scanPath(const std::string& path, const Query& q, Collect& sink, size_t chunk = 8 << 20,
                    std::optional<OutputFormat> format = std::nullopt) {
  std::unique_ptr<Pattern> pattern;
  if (!q.grep.empty()) pattern = std::make_unique<Pattern>(q.grep);
  ScanOptions o;
  o.chunkBytes = chunk;
  o.format = format;
  return scanFile(path, q, pattern.get(), o, sink);
}

}  // namespace

// ---- conditions, in every format that carries them ----

TEST(Scanner, NoConditionMatchesEveryLine) {
  for (auto f : kRecordFormats) EXPECT_EQ(matched(Query{}, f), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Scanner, LevelMeansThatLevelOrAbove) {
  for (auto f : kRecordFormats) {
    Query q;
    q.minLevel = Level::Warn;  // records 3 (warn), 4 (error), 5 (fatal), 9 (warn)
    EXPECT_EQ(matched(q, f), (std::vector<int>{3, 4, 5, 9})) << outputFormatName(f);
    q.minLevel = Level::Fatal;
    EXPECT_EQ(matched(q, f), (std::vector<int>{5})) << outputFormatName(f);
    q.minLevel = Level::Trace;
    EXPECT_EQ(matched(q, f).size(), 10u);
  }
}

TEST(Scanner, SinceIsInclusiveUntilExclusive) {
  for (auto f : kRecordFormats) {
    Query q;
    q.sinceUs = kT0 + 3 * kSecond;
    q.untilUs = kT0 + 6 * kSecond;
    EXPECT_EQ(matched(q, f), (std::vector<int>{3, 4, 5})) << outputFormatName(f);
    q.sinceUs = kT0 + 3 * kSecond + 1;  // one microsecond later
    EXPECT_EQ(matched(q, f), (std::vector<int>{4, 5})) << outputFormatName(f);
    q = Query{};
    q.untilUs = kT0;
    EXPECT_TRUE(matched(q, f).empty());
    q = Query{};
    q.sinceUs = kT0 + 9 * kSecond;
    EXPECT_EQ(matched(q, f), (std::vector<int>{9}));
  }
}

TEST(Scanner, ServiceMatchesTheWholeNameEvenEscaped) {
  for (auto f : kRecordFormats) {
    Query q;
    q.services = {"db"};
    EXPECT_EQ(matched(q, f), (std::vector<int>{1, 4, 7})) << outputFormatName(f);
    q.services = {"we\"b \\ caf\xc3\xa9\n"};  // escaped differently in text and json
    EXPECT_EQ(matched(q, f), (std::vector<int>{2, 5, 8})) << outputFormatName(f);
    q.services = {"web", "db"};
    EXPECT_EQ(matched(q, f), (std::vector<int>{0, 1, 3, 4, 6, 7, 9})) << outputFormatName(f);
    q.services = {"we"};  // a prefix is not the name
    EXPECT_TRUE(matched(q, f).empty());
  }
}

TEST(Scanner, HostMatchesTheWholeNameOrAGlob) {
  for (auto f : kRecordFormats) {
    Query q;
    q.hosts = {"host1"};
    EXPECT_EQ(matched(q, f), (std::vector<int>{1, 3, 5, 7, 9})) << outputFormatName(f);
    q.hosts = {"host"};  // a prefix is not the name
    EXPECT_TRUE(matched(q, f).empty()) << outputFormatName(f);
    q.hosts = {"h*"};
    EXPECT_EQ(matched(q, f).size(), 10u) << outputFormatName(f);
    q.hosts = {"nohost", "*[0]"};  // any of several
    EXPECT_EQ(matched(q, f), (std::vector<int>{0, 2, 4, 6, 8})) << outputFormatName(f);
    q.services = {"db"};  // and the other conditions still hold
    EXPECT_EQ(matched(q, f), (std::vector<int>{4})) << outputFormatName(f);
  }
}

TEST(Scanner, HostGlobMatchesTheDecodedName) {
  Record r;
  r.timestampUs = kT0;
  r.host = "we\"b\t1\n";  // escaped differently in text and json (no space: text ends a host there)
  r.message = "message 0";
  for (auto f : kRecordFormats) {
    Collect sink;
    Query q;
    q.hosts = {"we\"b\t?\n"};
    scanPieces(q, f, fileOf(f, {r}), 1 << 20, sink);
    EXPECT_EQ(sink.lines.size(), 1u) << outputFormatName(f);
    q.hosts = {"we\"b\t1\n"};
    Collect exact;
    scanPieces(q, f, fileOf(f, {r}), 1 << 20, exact);
    EXPECT_EQ(exact.lines.size(), 1u) << outputFormatName(f);
  }
}

TEST(Scanner, GrepLooksAtTheLineAsWritten) {
  for (auto f : kRecordFormats) {
    Query q;
    q.grep = "timeout";
    EXPECT_EQ(matched(q, f), (std::vector<int>{4}));
    q.grep = "message [13](\"})?$";  // the end of the line: no fields on records 1 and 3
    EXPECT_EQ(matched(q, f), (std::vector<int>{1, 3}));
    q.grep = "attempt.?=?\"?:?\"?[48]";  // fields, written differently by text and json
    EXPECT_EQ(matched(q, f), (std::vector<int>{4, 8})) << outputFormatName(f);
    q.grep = "no such thing|message 7";
    EXPECT_EQ(matched(q, f), (std::vector<int>{7}));
  }
}

TEST(Scanner, ConditionsCombine) {
  for (auto f : kRecordFormats) {
    Query q;
    q.minLevel = Level::Info;
    q.services = {"web", "db"};
    q.sinceUs = kT0 + 2 * kSecond;
    q.grep = "message";
    // 2, 5, 8: another service; 6 (trace), 7 (debug): below info
    EXPECT_EQ(matched(q, f), (std::vector<int>{3, 4, 9})) << outputFormatName(f);
  }
}

TEST(Scanner, InjectedTextInAMessageIsNotARecord) {
  // Record 4's message holds a fake FATAL line: escaped, it stays inside record 4's line.
  for (auto f : kRecordFormats) {
    Query q;
    q.minLevel = Level::Fatal;
    EXPECT_EQ(matched(q, f), (std::vector<int>{5})) << outputFormatName(f);
  }
}

TEST(Scanner, PiecesOfAnySizeGiveTheSameResult) {
  for (auto f : {OutputFormat::Text, OutputFormat::Json, OutputFormat::Raw}) {
    Query q;
    q.grep = "message [0-9]";
    for (size_t piece : {1, 2, 7, 64, 1000}) {
      Collect sink;
      const ScanCounts c = scanPieces(q, f, fileOf(f, records()), piece, sink);
      EXPECT_EQ(c.matches, 10u) << outputFormatName(f) << " piece " << piece;
      EXPECT_EQ(c.lines, 10u);
    }
  }
}

TEST(Scanner, RawLinesHaveOnlyTheirMessage) {
  Query q;
  q.grep = "message [5-7]";
  Collect sink;
  const ScanCounts c = scanPieces(q, OutputFormat::Raw, fileOf(OutputFormat::Raw, records()), 1 << 20, sink);
  EXPECT_EQ(c.matches, 3u);
  EXPECT_EQ(sink.lines, (std::vector<std::string>{"message 5", "message 6", "message 7"}));
}

TEST(Scanner, LinesThatDoNotParseAreCountedNeverMatched) {
  const std::string good = fileOf(OutputFormat::Text, records());
  const std::string bytes = good.substr(0, good.find('\n') + 1) + "not a text line\n\n" +
                            good.substr(good.find('\n') + 1) + "{\"ts\":\"json in a text file\"}\n";
  Collect sink;
  const ScanCounts c = scanPieces(Query{}, OutputFormat::Text, bytes, 1 << 20, sink);
  EXPECT_EQ(c.lines, 13u);
  EXPECT_EQ(c.unparsable, 3u);  // the garbage line, the empty line, the json line
  EXPECT_EQ(c.firstUnparsableLine, 2u);
  EXPECT_EQ(c.matches, 10u);
}

TEST(Scanner, ALastLineWithoutNewlineIsALine) {
  std::string bytes = fileOf(OutputFormat::Json, records());
  bytes.pop_back();
  Query q;
  q.sinceUs = kT0 + 9 * kSecond;
  Collect sink;
  const ScanCounts c = scanPieces(q, OutputFormat::Json, bytes, 5, sink);
  EXPECT_EQ(c.lines, 10u);
  ASSERT_EQ(sink.messages.size(), 1u);
  EXPECT_EQ(sink.messages[0], "message 9");
}

// ---- patterns and time bounds ----

TEST(Pattern, RequiredLiteralIsConservative) {
  EXPECT_EQ(requiredLiteral("timeout"), "timeout");
  EXPECT_EQ(requiredLiteral("conn.*refused"), "refused");
  EXPECT_EQ(requiredLiteral("^ERROR db"), "ERROR db");
  EXPECT_EQ(requiredLiteral("abcd?"), "abc");
  EXPECT_EQ(requiredLiteral("ab*cdef"), "cdef");
  EXPECT_EQ(requiredLiteral("x(abcdef)?y"), "x");
  EXPECT_EQ(requiredLiteral("a|b"), "");
  EXPECT_EQ(requiredLiteral("(a|b)cde"), "cde");
  EXPECT_EQ(requiredLiteral("[abc|]xyz"), "xyz");
  EXPECT_EQ(requiredLiteral("1\\.2\\.3"), "1.2.3");
  EXPECT_EQ(requiredLiteral("1\\.?2"), "1");
  EXPECT_EQ(requiredLiteral("\\wfoo"), "foo");
  EXPECT_EQ(requiredLiteral("a{2}bc"), "bc");
  EXPECT_TRUE(isPlainLiteral("timeout 30s"));
  EXPECT_FALSE(isPlainLiteral("time.out"));
}

TEST(Pattern, MatchesLikeGrepE) {
  Pattern p("conn(ection)? (refused|reset)");
  EXPECT_TRUE(p.matches("db: connection reset by peer"));
  EXPECT_TRUE(p.matches("conn refused"));
  EXPECT_FALSE(p.matches("connection closed"));
  Pattern anchored("^2025-11-24T16:00:0[0-4]");
  EXPECT_TRUE(anchored.matches("2025-11-24T16:00:03.000000Z INFO  a@b c"));
  EXPECT_FALSE(anchored.matches(" 2025-11-24T16:00:03.000000Z"));
  // The line is a view: bytes after it (the next line) must not count.
  const std::string two = "abc\ndef";
  Pattern end("c$");
  EXPECT_TRUE(end.matches(std::string_view(two).substr(0, 3)));
  Pattern across("c.d");
  EXPECT_FALSE(across.matches(std::string_view(two).substr(0, 3)));
}

TEST(Pattern, BadExpressionIsAUsageError) {
  EXPECT_THROW(Pattern("("), UsageError);
  EXPECT_THROW(Pattern("a{2"), UsageError);
  try {
    Pattern bad("[z-a]");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--grep"), std::string::npos) << e.what();
  }
}

TEST(TimeBound, Rfc3339OrADurationBeforeNow) {
  const int64_t now = kT0;
  EXPECT_EQ(parseTimeBound("--since", "2025-11-24T16:00:00Z", now), kT0);
  EXPECT_EQ(parseTimeBound("--since", "2025-11-24T17:00:00+01:00", now), kT0);
  EXPECT_EQ(parseTimeBound("--since", "90s", now), kT0 - 90 * kSecond);
  EXPECT_EQ(parseTimeBound("--since", "15m", now), kT0 - 900 * kSecond);
  EXPECT_EQ(parseTimeBound("--since", "2h", now), kT0 - 7200 * kSecond);
  EXPECT_EQ(parseTimeBound("--since", "7d", now), kT0 - 7 * 86'400 * kSecond);
  EXPECT_EQ(parseTimeBound("--since", "1w", now), kT0 - 7 * 86'400 * kSecond);
  EXPECT_EQ(parseTimeBound("--since", "0s", now), kT0);
  for (const char* bad : {"", "yesterday", "1", "h", "-1h", "1.5h", "1y", "99999999999d", "2025-11-24T16:00:00"}) {
    EXPECT_THROW(parseTimeBound("--since", bad, now), UsageError) << bad;
  }
}

// ---- format detection ----

TEST(DetectFormat, JudgesByMostOfTheFirstLines) {
  EXPECT_EQ(detectFormat(fileOf(OutputFormat::Json, records())), OutputFormat::Json);
  EXPECT_EQ(detectFormat(fileOf(OutputFormat::Text, records())), OutputFormat::Text);
  EXPECT_EQ(detectFormat(fileOf(OutputFormat::Raw, records())), OutputFormat::Raw);
  EXPECT_EQ(detectFormat("garbage\n" + fileOf(OutputFormat::Text, records())), OutputFormat::Text);
  EXPECT_EQ(detectFormat("\n\n" + fileOf(OutputFormat::Json, records())), OutputFormat::Json);
  std::string cut = fileOf(OutputFormat::Json, records());
  EXPECT_EQ(detectFormat(cut.substr(0, cut.size() / 2)), OutputFormat::Json);  // a cut last line is ignored
  EXPECT_EQ(detectFormat("hello\nworld\n2025-11-24T16:00:00.000000Z INFO  a@b c\n"), OutputFormat::Raw);
}

// ---- files ----

TEST(ScanFile, PlainFilesOfEveryFormat) {
  TempDir dir;
  for (auto f : {OutputFormat::Text, OutputFormat::Json, OutputFormat::Raw}) {
    const std::string path = dir.write(std::string(outputFormatName(f)) + ".log", fileOf(f, records()));
    Query q;
    q.grep = "message [2-4]";
    Collect sink;
    const FileReport r = scanPath(path, q, sink);
    EXPECT_EQ(r.format, f);
    EXPECT_TRUE(r.formatDetected);
    EXPECT_EQ(r.compression, Compression::None);
    EXPECT_EQ(r.counts.lines, 10u);
    EXPECT_EQ(r.counts.matches, 3u) << outputFormatName(f);
    EXPECT_EQ(sink.files, 1);
  }
}

TEST(ScanFile, ZstdFilesAreDecompressedWhateverTheirName) {
  TempDir dir;
  for (auto f : {OutputFormat::Text, OutputFormat::Json}) {
    std::string plain;
    for (int rep = 0; rep < 300; ++rep) plain += fileOf(f, records());  // 3000 lines
    const std::string path = dir.write(std::string(outputFormatName(f)) + ".1", zstdCompress(plain));
    Query q;
    q.minLevel = Level::Error;  // records 4 and 5 of each ten
    q.services = {"db"};        // record 4
    for (size_t chunk : {size_t{1} << 20, size_t{100}, size_t{1}}) {
      Collect sink;
      const FileReport r = scanPath(path, q, sink, chunk);
      EXPECT_EQ(r.compression, Compression::Zstd);
      EXPECT_EQ(r.format, f);
      EXPECT_EQ(r.counts.lines, 3000u);
      EXPECT_EQ(r.counts.matches, 300u) << outputFormatName(f) << " chunk " << chunk;
      EXPECT_EQ(r.bytesScanned, plain.size());
      EXPECT_LT(r.bytesRead, plain.size());
    }
  }
}

TEST(ScanFile, ZstdWithSeveralFramesAndSkippableFrames) {
  TempDir dir;
  const std::string part = fileOf(OutputFormat::Text, records());
  // A skippable frame: magic 0x184D2A50, 4-byte length, payload.
  const std::string skippable = std::string("\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);
  const std::string path = dir.write("multi.zst", zstdCompress(part) + skippable + zstdCompress(part, 19));
  Collect sink;
  const FileReport r = scanPath(path, Query{}, sink);
  EXPECT_EQ(r.counts.lines, 20u);
  EXPECT_EQ(r.counts.matches, 20u);
}

TEST(ScanFile, TruncatedOrCorruptZstdIsAnErrorAfterTheMatchesBeforeIt) {
  TempDir dir;
  // Varied lines, so that half of the compressed bytes hold several whole blocks.
  std::mt19937 rng(1);
  std::string plain;
  for (int rep = 0; rep < 2000; ++rep) {
    auto rs = records();
    for (auto& r : rs) r.message += " " + std::to_string(rng());
    plain += fileOf(OutputFormat::Text, rs);
  }
  const std::string z = zstdCompress(plain);
  Collect sink;
  try {
    scanPath(dir.write("cut.zst", z.substr(0, z.size() / 2)), Query{}, sink, 4096);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated zstd"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cut.zst"), std::string::npos) << e.what();
  }
  EXPECT_GT(sink.lines.size(), 0u);  // what was decompressed before the cut was scanned
  // Damaged bytes: found by the decoder or, at the latest, by the frame's checksum.
  std::string corrupt = z;
  for (size_t i = z.size() / 3; i < z.size() / 3 + 64; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  Collect sink2;
  try {
    scanPath(dir.write("corrupt.zst", corrupt), Query{}, sink2, 4096);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt zstd data"), std::string::npos) << e.what();
  }
}

TEST(ScanFile, EmptyFilesAndFilesWithoutFinalNewline) {
  TempDir dir;
  Collect sink;
  FileReport r = scanPath(dir.write("empty.log", ""), Query{}, sink);
  EXPECT_EQ(r.counts.lines, 0u);
  EXPECT_EQ(r.counts.matches, 0u);
  r = scanPath(dir.write("empty.zst", zstdCompress("")), Query{}, sink);
  EXPECT_EQ(r.counts.lines, 0u);
  EXPECT_EQ(r.compression, Compression::Zstd);
  std::string text = fileOf(OutputFormat::Text, records());
  text.pop_back();
  for (size_t chunk : {size_t{8} << 20, size_t{10}}) {
    Collect s;
    Query q;
    q.grep = "message 9";
    r = scanPath(dir.write("nonl.log", text), q, s, chunk);
    EXPECT_EQ(r.counts.lines, 10u);
    ASSERT_EQ(s.lines.size(), 1u);
    EXPECT_EQ(s.messages[0], "message 9");
    Collect sz;
    r = scanPath(dir.write("nonl.zst", zstdCompress(text)), q, sz, chunk);
    EXPECT_EQ(r.counts.lines, 10u);
    EXPECT_EQ(sz.lines.size(), 1u);
  }
}

TEST(ScanFile, UnparsableLinesInAFile) {
  TempDir dir;
  // Most of the first lines are json: json it is, and the rest does not parse.
  const std::string json = fileOf(OutputFormat::Json, records());
  const std::string path = dir.write("mixed.log", json + json + "oops\n" + fileOf(OutputFormat::Text, records()));
  Collect sink;
  const FileReport r = scanPath(path, Query{}, sink);
  EXPECT_EQ(r.format, OutputFormat::Json);
  EXPECT_EQ(r.counts.lines, 31u);
  EXPECT_EQ(r.counts.unparsable, 11u);
  EXPECT_EQ(r.counts.firstUnparsableLine, 21u);
  EXPECT_EQ(r.counts.matches, 20u);
  Collect forced;
  const FileReport t = scanPath(path, Query{}, forced, 8 << 20, OutputFormat::Text);  // --format text
  EXPECT_FALSE(t.formatDetected);
  EXPECT_EQ(t.counts.matches, 10u);
  EXPECT_EQ(t.counts.unparsable, 21u);
  EXPECT_EQ(t.counts.firstUnparsableLine, 1u);
}

TEST(ScanFile, RawFilesCannotAnswerRecordConditions) {
  TempDir dir;
  const std::string path = dir.write("raw.log", fileOf(OutputFormat::Raw, records()));
  Query q;
  q.minLevel = Level::Warn;
  Collect sink;
  const FileReport r = scanPath(path, q, sink);
  EXPECT_TRUE(r.lacksRecordParts);
  EXPECT_EQ(r.counts.matches, 0u);
  EXPECT_EQ(sink.files, 0);
}

TEST(ScanFile, UnreadableFilesAreOneLineErrors) {
  TempDir dir;
  Collect sink;
  auto message = [&](const std::string& path) {
    try {
      scanPath(path, Query{}, sink);
    } catch (const FileError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message(dir.path() + "/missing.log"), dir.path() + "/missing.log: cannot open: No such file or directory");
  EXPECT_EQ(message(dir.path()), dir.path() + ": is a directory");
  const std::string gz = dir.write("x.gz", std::string("\x1f\x8b\x08\x00\x00\x00", 6));
  EXPECT_NE(message(gz).find("gzip-compressed"), std::string::npos);
  if (::geteuid() != 0) {  // root reads anything
    const std::string locked = dir.write("locked.log", "x\n");
    ::chmod(locked.c_str(), 0);
    EXPECT_NE(message(locked).find("Permission denied"), std::string::npos);
  }
}

TEST(ScanFile, LargeFileInManySlices) {
  TempDir dir;
  std::string plain;
  for (int rep = 0; rep < 5000; ++rep) plain += fileOf(OutputFormat::Text, records());
  const std::string path = dir.write("big.log", plain);
  Query q;
  q.minLevel = Level::Fatal;
  std::vector<uint64_t> progress;
  Pattern* none = nullptr;
  ScanOptions o;
  o.chunkBytes = 100'000;
  o.progress = [&](const FileReport& r) { progress.push_back(r.bytesScanned); };
  Collect sink;
  const FileReport r = scanFile(path, q, none, o, sink);
  EXPECT_EQ(r.counts.lines, 50'000u);
  EXPECT_EQ(r.counts.matches, 5'000u);
  EXPECT_GT(progress.size(), plain.size() / 100'000 - 1);
  EXPECT_EQ(progress.back(), plain.size());
}
