// Output rotation: sizes and durations (core/units), rotated file names (core/rotated_name), the
// retention choice, zstd compression with checksums, the rotator's recovery after a crash, and the
// duplicate journal across rotations and reopens (aggregator/rotation, file_sink, id_journal).
#include "aggregator/rotation.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "core/rotated_name.hpp"
#include "core/units.hpp"
#include "search/file_order.hpp"
#include "sink_test_support.hpp"
#include "support/temp_dir.hpp"

using namespace logship;
using logship::testing::readFile;
using std::chrono::seconds;
namespace fs = std::filesystem;

namespace {

// 2026-11-27T14:00:00Z
constexpr int64_t kT = 1795788000;

std::string writeFile(const std::string& path, const std::string& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  if (f != nullptr) {
    std::fwrite(data.data(), 1, data.size(), f);
    std::fclose(f);
  }
  return path;
}

std::string zstdDecompress(const std::string& data, std::string* error = nullptr) {
  ZSTD_DCtx* d = ZSTD_createDCtx();
  std::string out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t rc = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    rc = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(rc)) {
      if (error != nullptr) *error = ZSTD_getErrorName(rc);
      break;
    }
    out.append(buf.data(), o.pos);
  }
  if (error != nullptr && error->empty() && rc != 0) *error = "truncated";
  ZSTD_freeDCtx(d);
  return out;
}

std::vector<std::string> namesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs `f` in a child process that then dies without running any destructor (a crash).
void crashAfter(const std::function<void()>& f) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      f();
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
}

}  // namespace

// ---- Sizes and durations --------------------------------------------------------------------------

TEST(Units, ByteSizesTakeOptionalUnitsAll1024Based) {
  EXPECT_EQ(parseByteSize("0"), 0u);
  EXPECT_EQ(parseByteSize("4096"), 4096u);
  EXPECT_EQ(parseByteSize("64K"), 64u << 10);
  EXPECT_EQ(parseByteSize("64k"), 64u << 10);
  EXPECT_EQ(parseByteSize("64KB"), 64u << 10);
  EXPECT_EQ(parseByteSize("64KiB"), 64u << 10);
  EXPECT_EQ(parseByteSize("100M"), 100ull << 20);
  EXPECT_EQ(parseByteSize("1G"), 1ull << 30);
  EXPECT_EQ(parseByteSize("2 T"), 2ull << 40);
  EXPECT_EQ(parseByteSize("12b"), 12u);
  EXPECT_EQ(parseByteSize("15E"), 15ull << 60);
}

TEST(Units, BadByteSizesAreRefused) {
  for (const char* bad :
       {"", "K", "-1", "1.5G", "5x", "1KK", "1Gbytes", " 1K", "1 K B", "+5", "16E", "99999999999999999999"}) {
    EXPECT_FALSE(parseByteSize(bad).has_value()) << bad;
  }
}

TEST(Units, DurationsNeedAUnit) {
  EXPECT_EQ(parseDuration("90s"), seconds(90));
  EXPECT_EQ(parseDuration("15m"), seconds(900));
  EXPECT_EQ(parseDuration("1h"), seconds(3600));
  EXPECT_EQ(parseDuration("1d"), seconds(86'400));
  EXPECT_EQ(parseDuration("2w"), seconds(14 * 86'400));
  EXPECT_EQ(parseDuration("0s"), seconds(0));
  for (const char* bad : {"", "5", "5x", "h", "1.5h", "-1h", "1H", "1hh", " 1h", "99999999999d"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(Units, FormattedForMessages) {
  EXPECT_EQ(formatByteSize(12), "12 bytes");
  EXPECT_EQ(formatByteSize(1024), "1 KiB");
  EXPECT_EQ(formatByteSize(1536), "1.5 KiB");
  EXPECT_EQ(formatByteSize(100ull << 20), "100 MiB");
  EXPECT_EQ(formatDuration(seconds(3600)), "1h");
  EXPECT_EQ(formatDuration(seconds(90)), "90s");
  EXPECT_EQ(formatDuration(seconds(7 * 86'400)), "1w");
}

// ---- Names ---------------------------------------------------------------------------------------

TEST(RotatedNames, NameTheUtcSecondOfTheRotation) {
  EXPECT_EQ(rotatedFileName("aggregated_logs.txt", {kT, 0, false}), "aggregated_logs.txt.20261127T140000Z");
  EXPECT_EQ(rotatedFileName("aggregated_logs.txt", {kT + 59, 0, true}), "aggregated_logs.txt.20261127T140059Z.zst");
  EXPECT_EQ(rotatedFileName("a.log", {kT, 2, true}), "a.log.20261127T140000Z_0002.zst");
  EXPECT_EQ(rotatedFileName("a.log", {kT, 12345, false}), "a.log.20261127T140000Z_12345");
  EXPECT_EQ(compressionTempName("a.log", {kT, 0, false}), ".a.log.20261127T140000Z.zst.tmp");
}

TEST(RotatedNames, ParseBackWhatTheyWrite) {
  for (const RotatedName n :
       {RotatedName{kT, 0, false}, RotatedName{kT + 1, 0, true}, RotatedName{kT, 12, false},
        RotatedName{kT, 12345, false}, RotatedName{kT + 86'399, 3, true}, RotatedName{0, 0, false}}) {
    const auto back = parseRotatedName("a.log", rotatedFileName("a.log", n));
    ASSERT_TRUE(back.has_value()) << rotatedFileName("a.log", n);
    EXPECT_EQ(back->unixSeconds, n.unixSeconds);
    EXPECT_EQ(back->counter, n.counter);
    EXPECT_EQ(back->compressed, n.compressed);
    const auto split = splitRotatedName(rotatedFileName("a.log", n));
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(split->first, "a.log");
    const auto temp = parseCompressionTempName("a.log", compressionTempName("a.log", n));
    ASSERT_TRUE(temp.has_value());
    EXPECT_TRUE(temp->sameRotation(n));
  }
}

TEST(RotatedNames, NothingElseIsTakenForOne) {
  for (const char* other : {"a.log",
                            "a.log.ids",
                            "a.log.1",
                            "a.log.1.gz",
                            "a.log-20261127",
                            "a.log.20261127",
                            "a.log.20261127T140000",
                            "a.log.20261127T140000Z.gz",
                            "a.log.20261127T140000Z.zst.tmp",
                            "a.log.20261127T140000Z_",
                            "a.log.20261127T140000Z_0000",
                            "a.log.20261127T140000Z_1",
                            "a.log.20261127T140000Z_01",
                            "a.log.20261127T140000Z_00001",
                            "a.log.20261127T140000Z_x",
                            "a.log.20261127T140000Z_000x",
                            "a.log.20261131T140000Z",
                            "a.log.20261127T250000Z",
                            "b.log.20261127T140000Z",
                            "a.logx20261127T140000Z",
                            ".a.log.20261127T140000Z.zst.tmp",
                            "a.log.20261127T140000Z.zst.zst"}) {
    EXPECT_FALSE(parseRotatedName("a.log", other).has_value()) << other;
  }
  EXPECT_FALSE(parseCompressionTempName("a.log", ".a.log.20261127T140000Z.tmp").has_value());
  EXPECT_FALSE(parseCompressionTempName("a.log", "a.log.20261127T140000Z.zst.tmp").has_value());
  // Another output's rotated file is its own.
  EXPECT_EQ(splitRotatedName("a.log.20261127T140000Z.zst")->first, "a.log");
  EXPECT_EQ(splitRotatedName("a.log.20261127T140000Z_0003")->first, "a.log");
  EXPECT_FALSE(splitRotatedName("a.log.1").has_value());
  EXPECT_FALSE(splitRotatedName("20261127T140000Z").has_value());
}

TEST(RotatedNames, IntervalBoundariesAreMultiplesSinceTheEpoch) {
  EXPECT_EQ(nextIntervalBoundary(kT, seconds(3600)), kT + 3600);  // on the hour: the next one
  EXPECT_EQ(nextIntervalBoundary(kT + 1, seconds(3600)), kT + 3600);
  EXPECT_EQ(nextIntervalBoundary(kT + 3599, seconds(3600)), kT + 3600);
  EXPECT_EQ(nextIntervalBoundary(kT + 1800, seconds(86'400)), 1795824000);  // 2026-11-28T00:00:00Z
  EXPECT_EQ(nextIntervalBoundary(kT + 7, seconds(900)), kT + 900);
  EXPECT_EQ(nextIntervalBoundary(-10, seconds(60)), 0);
}

// ---- Retention -------------------------------------------------------------------------------------

TEST(Retention, KeepsTheNewestAndDeletesWhatIsTooOld) {
  std::vector<RotatedFile> files;
  for (int i = 0; i < 6; ++i) files.push_back({"", RotatedName{kT + i * 3600, 0, true}});
  files.push_back({"", RotatedName{kT + 5 * 3600, 1, false}});  // a second rotation in that second
  files.push_back({"", RotatedName{kT + 5 * 3600, 1, true}});   // ... both forms: one rotation
  const int64_t now = kT + 6 * 3600;

  auto expired = selectExpired(files, 3, seconds(0), now);
  ASSERT_EQ(expired.size(), 4u);  // 7 rotations, the 3 newest kept
  EXPECT_EQ(expired.front().unixSeconds, kT);
  EXPECT_EQ(expired.back().unixSeconds, kT + 3 * 3600);

  expired = selectExpired(files, 0, seconds(2 * 3600), now);  // rotated 2 h ago or more
  ASSERT_EQ(expired.size(), 5u);
  EXPECT_EQ(expired.back().unixSeconds, kT + 4 * 3600);

  expired = selectExpired(files, 6, seconds(4 * 3600 + 1), now);  // both: the stricter wins per file
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(selectExpired(files, 0, seconds(0), now).size(), 0u);
  EXPECT_EQ(selectExpired({}, 1, seconds(1), now).size(), 0u);
}

// ---- Compression -----------------------------------------------------------------------------------

class RotationFiles : public ::testing::Test {
 protected:
  void SetUp() override { output = dir + "/out.log"; }
  std::string at(const std::string& name) const { return dir + "/" + name; }
  std::string rotated(const RotatedName& n) const { return at(rotatedFileName("out.log", n)); }
  static std::string lines(int from, int to) {
    std::string s;
    for (int i = from; i < to; ++i)
      s += "2026-11-27T14:00:00.000000Z INFO  svc@host record " + std::to_string(i) + "\n";
    return s;
  }
  // Appends one line per id ("line <id>\n") as the collector does.
  static void appendLines(FileSink& sink, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      sink.append("line " + id + "\n");
      sink.journal()->add(id, sink.pendingBytes());
    }
  }
  std::unique_ptr<FileSink> openSink() {
    auto sink = std::make_unique<FileSink>(output);
    sink->enableDedup(IdJournalOptions{1000, false});
    return sink;
  }
  logship::testing::TempDir tmp;
  std::string dir = tmp.path();
  std::string output;
};

TEST_F(RotationFiles, CompressionRoundTripsWithAChecksummedFrame) {
  const std::string content = lines(0, 20'000);
  const RotatedName n{kT, 0, false};
  writeFile(rotated(n), content);
  ::chmod(rotated(n).c_str(), 0640);
  const uint64_t bytes = compressRotatedFile(output, n, 3);

  const RotatedName z{kT, 0, true};
  EXPECT_FALSE(fs::exists(rotated(n)));  // the uncompressed file is gone
  EXPECT_EQ(namesIn(dir), std::vector<std::string>{"out.log.20261127T140000Z.zst"});
  const std::string data = readFile(rotated(z));
  EXPECT_EQ(data.size(), bytes);
  EXPECT_LT(data.size(), content.size() / 5);
  EXPECT_EQ(zstdDecompress(data), content);
  EXPECT_EQ(fs::status(rotated(z)).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);

  // One frame (RFC 8878): magic, then the frame header descriptor, whose bit 2 is the content
  // checksum flag; the content size is in the header.
  ASSERT_GT(data.size(), 5u);
  EXPECT_EQ(static_cast<unsigned char>(data[4]) & 0x04, 0x04);
  EXPECT_EQ(ZSTD_getFrameContentSize(data.data(), data.size()), content.size());
  EXPECT_EQ(ZSTD_findFrameCompressedSize(data.data(), data.size()), data.size());

  // A flipped byte in the content is caught by the checksum (or the entropy decoder), never
  // returned as if it were the file.
  std::string damaged = data;
  damaged[damaged.size() / 2] ^= 0x20;
  std::string error;
  const std::string got = zstdDecompress(damaged, &error);
  EXPECT_FALSE(error.empty());
  EXPECT_NE(got, content);
  // The checksum itself (the frame's last 4 bytes).
  damaged = data;
  damaged[damaged.size() - 1] ^= 0x01;
  error.clear();
  zstdDecompress(damaged, &error);
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
}

TEST_F(RotationFiles, AnEmptyRotatedFileCompressesToo) {
  const RotatedName n{kT, 0, false};
  writeFile(rotated(n), "");
  compressRotatedFile(output, n, 3);
  EXPECT_EQ(zstdDecompress(readFile(rotated({kT, 0, true}))), "");
}

TEST_F(RotationFiles, AFailedCompressionLeavesTheFileAsItWas) {
  const RotatedName n{kT, 0, false};
  EXPECT_THROW(compressRotatedFile(output, n, 3), Error);  // missing
  writeFile(rotated(n), lines(0, 10));
  // The temporary cannot be created (a directory holds its name; works as root too).
  fs::create_directory(at(compressionTempName("out.log", n)));
  try {
    compressRotatedFile(output, n, 3);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(compressionTempName("out.log", n)), std::string::npos) << e.what();
  }
  fs::remove(at(compressionTempName("out.log", n)));
  EXPECT_EQ(readFile(rotated(n)), lines(0, 10));
  EXPECT_EQ(namesIn(dir), std::vector<std::string>{"out.log.20261127T140000Z"});
}

TEST_F(RotationFiles, AtStartACrashedCompressionIsFinishedAndItsTemporaryRemoved) {
  // What crashes leave: (1) a half-written temporary beside its uncompressed file; (2) a finished
  // .zst whose uncompressed file was not unlinked yet; (3) an uncompressed file never compressed.
  const RotatedName a{kT, 0, false}, b{kT + 60, 0, false}, c{kT + 120, 1, false};
  writeFile(rotated(a), lines(0, 1000));
  writeFile(at(compressionTempName("out.log", a)), readFile(rotated(a)).substr(0, 100));  // not even zstd
  writeFile(rotated(b), lines(1000, 2000));
  writeFile(rotated({kT + 60, 0, true}), "stale bytes that are not the file");  // replaced by a fresh one
  writeFile(rotated(c), lines(2000, 3000));
  // Not ours: never touched.
  writeFile(at("out.log.1"), "logrotate's\n");
  writeFile(at("other.log.20261127T140000Z"), "another output's\n");
  writeFile(at(".other.log.20261127T140000Z.zst.tmp"), "another output's temporary\n");
  writeFile(at("out.log.20261127T140000Z.gz"), "not ours\n");
  writeFile(output, lines(3000, 3001));

  FileSink sink(output);
  RotationOptions options;
  options.maxBytes = 1 << 20;
  {
    OutputRotator rotator(sink, options);
    rotator.finish();
    EXPECT_EQ(rotator.stats().compressed, 3u);
  }
  EXPECT_EQ(namesIn(dir),
            (std::vector<std::string>{".other.log.20261127T140000Z.zst.tmp", "other.log.20261127T140000Z", "out.log",
                                      "out.log.1", "out.log.20261127T140000Z.gz", "out.log.20261127T140000Z.zst",
                                      "out.log.20261127T140100Z.zst", "out.log.20261127T140200Z_0001.zst"}));
  EXPECT_EQ(zstdDecompress(readFile(rotated({kT, 0, true}))), lines(0, 1000));
  EXPECT_EQ(zstdDecompress(readFile(rotated({kT + 60, 0, true}))), lines(1000, 2000));
  EXPECT_EQ(zstdDecompress(readFile(rotated({kT + 120, 1, true}))), lines(2000, 3000));
  EXPECT_EQ(readFile(output), lines(3000, 3001));
}

TEST_F(RotationFiles, ACrashInTheMiddleOfACompressionLosesNothing) {
  // The child is killed (SIGKILL, no clean-up) while it compresses a large rotated file; at every
  // moment the uncompressed file or the finished .zst holds all of it.
  const RotatedName n{kT, 0, false};
  const std::string content = lines(0, 300'000);
  writeFile(rotated(n), content);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    compressRotatedFile(output, n, 19);  // slow on purpose: killed in the middle
    ::_exit(0);
  }
  // Kill it once its temporary exists (or it is done already).
  const std::string temp = at(compressionTempName("out.log", n));
  for (int i = 0; i < 20'000 && !fs::exists(temp) && fs::exists(rotated(n)); ++i) ::usleep(100);
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const bool plainLeft = fs::exists(rotated(n));
  if (plainLeft) {
    EXPECT_EQ(readFile(rotated(n)), content);
  }

  FileSink sink(output);
  RotationOptions options;
  options.maxBytes = 1 << 20;
  {
    OutputRotator rotator(sink, options);
    rotator.finish();
  }
  EXPECT_EQ(namesIn(dir), (std::vector<std::string>{"out.log", "out.log.20261127T140000Z.zst"}));
  EXPECT_EQ(zstdDecompress(readFile(rotated({kT, 0, true}))), content);
}

TEST_F(RotationFiles, RotatesBySizeBeforeAWriteWouldPassItAndKeepsTheNewest) {
  auto sink = openSink();
  RotationOptions options;
  options.maxBytes = 1000;
  options.keep = 2;
  OutputRotator rotator(*sink, options);
  std::string all;
  for (int batch = 0; batch < 10; ++batch) {
    std::string text = lines(batch * 5, batch * 5 + 5);  // 5 lines, ~300 bytes
    sink->append(text);
    all += text;
    rotator.betweenCommits(sink->pendingBytes(), false);  // what the collector does before each write
    sink->flush(false);
  }
  rotator.finish();
  const auto stats = rotator.stats();
  EXPECT_GE(stats.rotations, 2u);
  EXPECT_EQ(stats.compressed, stats.rotations);
  EXPECT_EQ(stats.deleted, stats.rotations - 2);
  const auto files = listRotatedFiles(output);
  ASSERT_EQ(files.size(), 2u);  // --keep 2
  // The kept ones and the output hold the last records, in order, each once, lines whole.
  std::string kept;
  for (const auto& f : files) {
    EXPECT_TRUE(f.name.compressed);
    const std::string part = zstdDecompress(readFile(at(f.fileName)));
    EXPECT_LE(part.size(), 1000u);
    EXPECT_EQ(part.back(), '\n');
    kept += part;
  }
  kept += readFile(output);
  ASSERT_LE(kept.size(), all.size());
  EXPECT_EQ(all.substr(all.size() - kept.size()), kept);
  EXPECT_EQ(all[all.size() - kept.size() - 1], '\n');  // the kept part starts at a line
}

TEST_F(RotationFiles, TwoRotationsInOneSecondGetACounter) {
  auto sink = openSink();
  RotationOptions options;
  options.maxBytes = 1024;
  options.compress = false;
  OutputRotator rotator(*sink, options);
  for (int i = 0; i < 3; ++i) {
    sink->append(std::string(1000, 'x') + "\n");
    rotator.betweenCommits(sink->pendingBytes(), false);
    sink->flush(false);
  }
  rotator.finish();
  const auto files = listRotatedFiles(output);
  ASSERT_EQ(files.size(), 2u);
  for (const auto& f : files) EXPECT_EQ(readFile(at(f.fileName)), std::string(1000, 'x') + "\n");
  // Unless the second passed between them, the second one carries _0001 (and sorts after the first).
  EXPECT_TRUE(files[0].name < files[1].name);
  if (files[0].name.unixSeconds == files[1].name.unixSeconds) {
    EXPECT_EQ(files[1].name.counter, 1u);
    EXPECT_TRUE(files[1].fileName.ends_with("Z_0001")) << files[1].fileName;
  }
}

TEST_F(RotationFiles, NamesNeverGoBackEvenWhenTheNewestWereDeleted) {
  // A rotated file named in the future (the clock was set back since): later rotations sort after it.
  const RotatedName future{4'000'000'000, 3, true};  // 2096
  writeFile(rotated(future), "");
  auto sink = openSink();
  RotationOptions options;
  options.maxBytes = 1024;
  options.compress = false;
  OutputRotator rotator(*sink, options);
  std::vector<RotatedName> names;
  for (int i = 0; i < 4; ++i) {
    sink->append(std::string(1000, static_cast<char>('a' + i)) + "\n");
    rotator.betweenCommits(sink->pendingBytes(), false);
    sink->flush(false);
    // Retention deleting every rotated file in between: their names are not taken again.
    for (const auto& f : listRotatedFiles(output)) {
      if (!f.name.sameRotation(future)) {
        names.push_back(f.name);
        fs::remove(at(f.fileName));
      }
    }
  }
  rotator.finish();
  ASSERT_EQ(names.size(), 3u);
  EXPECT_TRUE(future < names[0]);
  EXPECT_EQ(names[0].unixSeconds, future.unixSeconds);
  EXPECT_EQ(names[0].counter, 4u);
  EXPECT_TRUE(names[0] < names[1]);
  EXPECT_TRUE(names[1] < names[2]);
}

TEST_F(RotationFiles, AnIntervalRotatesANonEmptyOutputLastWrittenInAnEarlierInterval) {
  writeFile(output, lines(0, 3));
  const struct timespec old[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};  // last written in 2020
  ASSERT_EQ(::utimensat(AT_FDCWD, output.c_str(), old, 0), 0);
  auto sink = openSink();
  RotationOptions options;
  options.interval = seconds(3600);
  options.compress = false;
  OutputRotator rotator(*sink, options);
  rotator.betweenCommits(0, false);  // idle: rotated all the same
  rotator.betweenCommits(0, false);  // empty now: nothing more
  rotator.finish();
  EXPECT_EQ(rotator.stats().rotations, 1u);
  const auto files = listRotatedFiles(output);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(readFile(at(files[0].fileName)), lines(0, 3));
  EXPECT_EQ(readFile(output), "");
}

// ---- The journal across rotations ---------------------------------------------------------------

TEST_F(RotationFiles, AfterARotationTheIdsStillSuppressDuplicatesWithoutAWarning) {
  {
    auto sink = openSink();
    appendLines(*sink, {"p-1", "p-2"});
    sink->flush(false);
    ASSERT_EQ(sink->rotateTo(rotated({kT, 0, false})), FileSink::Switch::Done);
    EXPECT_TRUE(sink->journal()->contains("p-1"));                                    // in memory: still suppressed
    EXPECT_EQ(sink->rotateTo(rotated({kT, 0, false})), FileSink::Switch::NameTaken);  // never replaced
    appendLines(*sink, {"p-3"});
    sink->flush(false);
  }
  EXPECT_EQ(readFile(rotated({kT, 0, false})), "line p-1\nline p-2\n");
  EXPECT_EQ(readFile(output), "line p-3\n");
  auto sink = openSink();
  const auto& r = sink->journal()->recovery();
  EXPECT_FALSE(r.outputChanged);
  EXPECT_EQ(r.forgotten, 0u);
  for (const char* id : {"p-1", "p-2", "p-3"}) EXPECT_TRUE(sink->journal()->contains(id)) << id;
}

TEST_F(RotationFiles, ARestartRightAfterARotationFindsNoForeignFile) {
  {
    auto sink = openSink();
    appendLines(*sink, {"p-1", "p-2"});
    sink->flush(false);
    ASSERT_EQ(sink->rotateTo(rotated({kT, 0, false})), FileSink::Switch::Done);
  }
  // The rotated file compressed (the uncompressed one gone): the journal named the new output.
  compressRotatedFile(output, {kT, 0, false}, 3);
  auto sink = openSink();
  const auto& r = sink->journal()->recovery();
  EXPECT_FALSE(r.outputChanged);
  EXPECT_EQ(r.forgotten, 0u);
  EXPECT_TRUE(sink->journal()->contains("p-2"));
}

TEST_F(RotationFiles, ACrashBetweenTheRenameAndTheNewOutputIsCheckedInTheRotatedFile) {
  crashAfter([&] {
    auto sink = openSink();
    appendLines(*sink, {"p-1", "p-2"});
    sink->flush(false);
    // The rename alone, as if the process died right after it.
    std::rename(output.c_str(), rotated({kT, 0, false}).c_str());
  });
  {
    auto sink = openSink();  // the output is created afresh
    const auto& r = sink->journal()->recovery();
    EXPECT_FALSE(r.outputChanged);
    EXPECT_EQ(r.checkedIn, rotated({kT, 0, false}));
    EXPECT_EQ(r.forgotten, 0u);
    EXPECT_TRUE(sink->journal()->contains("p-2"));  // in the rotated file: a redelivery is skipped
  }
  // The journal now names the new output: once the rotated file is compressed, all is still clean.
  compressRotatedFile(output, {kT, 0, false}, 3);
  auto sink = openSink();
  EXPECT_FALSE(sink->journal()->recovery().outputChanged);
  EXPECT_EQ(sink->journal()->recovery().checkedIn, "");
  EXPECT_TRUE(sink->journal()->contains("p-2"));
}

TEST_F(RotationFiles, ATornWriteInARenamedFileIsCutThere) {
  {
    auto sink = openSink();
    appendLines(*sink, {"p-1"});
    sink->flush(false);
  }
  crashAfter([&] {
    // A write journaled, then cut in the middle of a line, then logrotate's rename, then the crash.
    const int fd = ::open(output.c_str(), O_WRONLY | O_APPEND);
    struct stat st {};
    ::fstat(fd, &st);
    IdJournal journal(output + ".ids", output, fd, IdJournalOptions{});
    journal.add("p-2", 9);
    journal.add("p-3", 18);
    journal.beforeWrite(st.st_dev, st.st_ino, st.st_size, 0, 18);
    const std::string partial = "line p-2\nline";
    if (::write(fd, partial.data(), partial.size()) < 0) ::_exit(1);
    std::rename(output.c_str(), (output + ".1").c_str());
  });
  ASSERT_EQ(readFile(output + ".1"), "line p-1\nline p-2\nline");
  auto sink = openSink();
  const auto& r = sink->journal()->recovery();
  EXPECT_EQ(r.checkedIn, output + ".1");
  EXPECT_FALSE(r.outputChanged);
  EXPECT_EQ(r.cutBytes, 4);
  EXPECT_EQ(r.forgotten, 1u);
  EXPECT_EQ(readFile(output + ".1"), "line p-1\nline p-2\n");
  EXPECT_TRUE(sink->journal()->contains("p-2"));
  EXPECT_FALSE(sink->journal()->contains("p-3"));  // not written: written when redelivered
}

TEST_F(RotationFiles, AReopenAfterLogrotateNamesTheNewFile) {
  {
    auto sink = openSink();
    EXPECT_FALSE(sink->reopen());  // nothing renamed: nothing to do
    appendLines(*sink, {"p-1"});
    sink->flush(false);
    ASSERT_EQ(std::rename(output.c_str(), (output + ".1").c_str()), 0);  // logrotate: rename, create
    writeFile(output, "");
    appendLines(*sink, {"p-2"});
    sink->flush(false);  // before the SIGHUP: still the old file
    EXPECT_TRUE(sink->reopen());
    appendLines(*sink, {"p-3"});
    sink->flush(false);
    // The renamed file moves on (compressed by logrotate): the journal does not need it.
    ASSERT_EQ(std::remove((output + ".1").c_str()), 0);
  }
  EXPECT_EQ(readFile(output), "line p-3\n");
  auto sink = openSink();
  EXPECT_FALSE(sink->journal()->recovery().outputChanged);
  for (const char* id : {"p-1", "p-2", "p-3"}) EXPECT_TRUE(sink->journal()->contains(id)) << id;
}

TEST_F(RotationFiles, ReopenCreatesADeletedOutput) {
  auto sink = openSink();
  appendLines(*sink, {"p-1"});
  sink->flush(false);
  ASSERT_EQ(std::remove(output.c_str()), 0);
  EXPECT_TRUE(sink->reopen());
  appendLines(*sink, {"p-2"});
  sink->flush(false);
  EXPECT_EQ(readFile(output), "line p-2\n");
}

// ---- logctl search's order -------------------------------------------------------------------------

TEST(SearchFileOrder, AnOutputsRotatedFilesComeOldestFirstAndTheOutputLast) {
  // As bash lists `d/out.log*` (in the C locale).
  // Any order (a shell in another locale, a list by hand).
  const std::vector<std::string> glob = {"d/out.log",
                                         "d/out.log.20261127T140000Z.zst",
                                         "d/out.log.20261127T140000Z_0001.zst",
                                         "d/out.log.20261127T140000Z_0010.zst",
                                         "d/out.log.20261127T140000Z_0002",
                                         "d/out.log.20261127T140000Z_0002.zst",
                                         "d/out.log.20261127T150000Z.zst",
                                         "d/out.log.ids"};
  auto o =
      search::orderFiles({"x.log", glob[6], glob[3], glob[0], glob[7], glob[2], glob[5], glob[4], glob[1], "-"}, false);
  EXPECT_EQ(o.files,
            (std::vector<std::string>{"x.log", "d/out.log.20261127T140000Z.zst", "d/out.log.20261127T140000Z_0001.zst",
                                      "d/out.log.20261127T140000Z_0002.zst", "d/out.log.20261127T140000Z_0010.zst",
                                      "d/out.log.20261127T150000Z.zst", "d/out.log", "-"}));
  EXPECT_EQ(o.skipped, (std::vector<std::string>{"d/out.log.20261127T140000Z_0002", "d/out.log.ids"}));

  // A journal whose output is not given is left to the caller (which warns); with --format it is read.
  o = search::orderFiles({"d/out.log.ids"}, false);
  EXPECT_EQ(o.files, std::vector<std::string>{"d/out.log.ids"});
  o = search::orderFiles({"d/out.log", "d/out.log.ids"}, true);
  EXPECT_EQ(o.files, (std::vector<std::string>{"d/out.log", "d/out.log.ids"}));
  // Files of other names keep their order; two outputs' groups do not mix.
  o = search::orderFiles({"b", "a.20261127T150000Z", "c", "a", "b.20261127T140000Z", "a.20261127T140000Z"}, false);
  EXPECT_EQ(o.files, (std::vector<std::string>{"b.20261127T140000Z", "b", "a.20261127T140000Z", "a.20261127T150000Z",
                                               "a", "c"}));
}
