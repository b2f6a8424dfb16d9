// Following files and multiline records (producer/input/): the pure logic (line splitting with
// offsets, the multiline joiner, file identity, the state file's text, checkpoint marks), then the
// FileInput on real files in a temporary directory with a scripted publisher standing in for the
// broker (as in shipper_test.cpp): rotation, truncation, restarts and the checkpoint. The broker
// side is tested end to end (tests/e2e/test_follow.py).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "producer/input/checkpoint.hpp"
#include "producer/input/file_input.hpp"
#include "producer/input/follow_state.hpp"
#include "producer/input/multiline.hpp"
#include "producer/line_buffer.hpp"
#include "producer/shipper.hpp"
#include "support/fake_broker.hpp"
#include "support/temp_dir.hpp"

namespace logship {
namespace {

using namespace std::chrono_literals;
using Clock = LineJoiner::Clock;

// ---- LineBuffer ---------------------------------------------------------------------------------

using testing::TempDir;

void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

TEST(LineBuffer, GivesLinesWithTheBytesEachTookAndGrowsForLongOnes) {
  TempDir dir;
  const std::string path = dir / "f";
  const std::string longLine(100'000, 'x');
  append(path, "one\r\ntwo\n" + longLine + "\nrest");
  const int fd = ::open(path.c_str(), O_RDONLY);
  LineBuffer buf(200'000, 16);  // starts tiny: must grow to hold the long line
  std::vector<std::pair<std::string, size_t>> got;
  std::string_view line;
  size_t skipped = 0;
  for (;;) {
    const auto r = buf.next(line, skipped);
    if (r == LineBuffer::Result::Line) {
      got.emplace_back(std::string(line), buf.lastBytes());
      continue;
    }
    ASSERT_EQ(r, LineBuffer::Result::NeedMore);
    if (buf.readFrom(fd) == 0) break;
  }
  EXPECT_EQ(buf.held(), 4u);  // "rest": a partial line
  ASSERT_EQ(buf.rest(line, skipped), LineBuffer::Result::Line);
  got.emplace_back(std::string(line), buf.lastBytes());
  ::close(fd);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], (std::pair<std::string, size_t>{"one", 5}));  // CR removed, counted
  EXPECT_EQ(got[1], (std::pair<std::string, size_t>{"two", 4}));
  EXPECT_EQ(got[2].second, 100'001u);
  EXPECT_EQ(got[3], (std::pair<std::string, size_t>{"rest", 4}));
}

TEST(LineBuffer, ALineOverTheLimitIsSkippedWholeWithItsLength) {
  TempDir dir;
  const std::string path = dir / "f";
  append(path, "ok\n" + std::string(300'000, 'y') + "\nafter\n");
  const int fd = ::open(path.c_str(), O_RDONLY);
  LineBuffer buf(1000, 1024);
  std::vector<std::string> got;
  size_t total = 0;
  std::string_view line;
  size_t skipped = 0;
  for (;;) {
    const auto r = buf.next(line, skipped);
    if (r == LineBuffer::Result::Line) got.emplace_back(line);
    if (r == LineBuffer::Result::TooLong) got.push_back(fmt::format("<{}>", skipped));
    if (r != LineBuffer::Result::NeedMore) {
      total += buf.lastBytes();
      continue;
    }
    if (buf.readFrom(fd) == 0) break;
  }
  ::close(fd);
  EXPECT_EQ(got, (std::vector<std::string>{"ok", "<300000>", "after"}));
  EXPECT_EQ(total, 3u + 300'001u + 6u);  // every byte accounted for: the offsets stay exact
}

// ---- the multiline joiner ---------------------------------------------------------------------------

struct Joined {
  std::vector<std::string> records;
  void take(std::optional<std::string_view> r) {
    if (r) records.emplace_back(*r);
  }
};

TEST(Multiline, OffShipsEveryLineAndSkipsEmptyOnes) {
  MultilineOptions o;
  LineJoiner j(o);
  Joined out;
  const auto now = Clock::now();
  for (std::string_view l : {"a", "", "  b"}) out.take(j.push(l, {}, now));
  EXPECT_EQ(out.records, (std::vector<std::string>{"a", "  b"}));
  EXPECT_FALSE(j.pending());
  EXPECT_EQ(j.emptyLines(), 1u);
}

TEST(Multiline, IndentedJoinsAJavaStackTraceWithCausedBy) {
  MultilineOptions o;
  o.rule = MultilineRule::indented();
  LineJoiner j(o);
  Joined out;
  const auto now = Clock::now();
  const std::vector<std::string_view> lines = {
      "2026-11-27 10:00:00 ERROR request failed",
      "java.lang.IllegalStateException: boom",  // not indented: a record of its own (see below)
      "\tat com.example.Foo.bar(Foo.java:10)",
      "\tat com.example.Main.main(Main.java:5)",
      "Caused by: java.io.IOException: disk",
      "\t... 2 more",
      "2026-11-27 10:00:01 INFO next",
  };
  for (size_t i = 0; i < lines.size(); ++i) out.take(j.push(lines[i], {i, i}, now));
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0], "2026-11-27 10:00:00 ERROR request failed");
  EXPECT_EQ(out.records[1],
            "java.lang.IllegalStateException: boom\n\tat com.example.Foo.bar(Foo.java:10)\n"
            "\tat com.example.Main.main(Main.java:5)\nCaused by: java.io.IOException: disk\n\t... 2 more");
  EXPECT_TRUE(j.pending());
  EXPECT_EQ(j.pendingTag().offset, 6u);  // where the pending record starts
  out.take(j.flush());
  EXPECT_EQ(out.records.back(), "2026-11-27 10:00:01 INFO next");
  EXPECT_FALSE(j.pending());
}

TEST(Multiline, StartPatternJoinsAPythonTracebackAndKeepsInnerBlankLines) {
  MultilineOptions o;
  o.rule = MultilineRule::startingWith("^[0-9]{4}-[0-9]{2}-[0-9]{2} ");
  LineJoiner j(o);
  Joined out;
  const auto now = Clock::now();
  for (std::string_view l : {"continuation before any start", "2026-11-27 10:00:00 ERROR failed",
                             "Traceback (most recent call last):", "  File \"a.py\", line 1, in <module>", "",
                             "ZeroDivisionError: division by zero", "", "", "2026-11-27 10:00:01 INFO ok"}) {
    out.take(j.push(l, {}, now));
  }
  out.take(j.flush());
  ASSERT_EQ(out.records.size(), 3u);
  EXPECT_EQ(out.records[0], "continuation before any start");  // a line before the first start is a record
  EXPECT_EQ(out.records[1],
            "2026-11-27 10:00:00 ERROR failed\nTraceback (most recent call last):\n  File \"a.py\", line 1, in "
            "<module>\n\nZeroDivisionError: division by zero");  // trailing blank lines dropped, inner kept
  EXPECT_EQ(out.records[2], "2026-11-27 10:00:01 INFO ok");
}

TEST(Multiline, ARecordAtTheLineOrByteLimitIsShippedAndTheNextLineStartsANewOne) {
  MultilineOptions o;
  o.rule = MultilineRule::indented();
  o.maxLines = 3;
  o.maxBytes = 20;
  LineJoiner j(o);
  Joined out;
  const auto now = Clock::now();
  for (std::string_view l : {"head", " 1", " 2", " 3", " 4"}) out.take(j.push(l, {}, now));
  EXPECT_EQ(out.records, (std::vector<std::string>{"head\n 1\n 2"}));  // 3 lines
  EXPECT_EQ(j.splits(), 1u);
  out.take(j.push(" 0123456789abcdef", {}, now));  // " 3\n 4\n" + 17 bytes > 20
  EXPECT_EQ(out.records.back(), " 3\n 4");
  EXPECT_EQ(j.takeSplits(), 2u);
  EXPECT_EQ(j.splits(), 0u);
  out.take(j.flush());
  EXPECT_EQ(out.records.back(), " 0123456789abcdef");  // nothing dropped
}

TEST(Multiline, APendingRecordIsDueAfterTheTimeoutSinceItsLastLine) {
  MultilineOptions o;
  o.rule = MultilineRule::indented();
  o.timeout = 1000ms;
  LineJoiner j(o);
  const auto t0 = Clock::now();
  EXPECT_FALSE(j.push("head", {}, t0));
  EXPECT_FALSE(j.push(" more", {}, t0 + 800ms));
  EXPECT_EQ(j.due(), t0 + 1800ms);
  EXPECT_FALSE(j.flushIfDue(t0 + 1700ms));
  const auto r = j.flushIfDue(t0 + 1800ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "head\n more");
  EXPECT_FALSE(j.due());
}

TEST(Multiline, ABadRegexIsAUsageErrorNamingTheFlag) {
  try {
    MultilineRule::startingWith("([unclosed", "--multiline-start");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--multiline-start: '([unclosed' is not a valid"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(MultilineRule::startingWith(""), UsageError);
}

// ---- identity and the start decision -----------------------------------------------------------------

TEST(FollowIdentity, AFingerprintMatchesTheSameFileGrownAndNothingElse) {
  const std::string content(3000, 'a');
  const Fingerprint small = fingerprintOf(content.substr(0, 100));
  EXPECT_EQ(small.bytes, 100u);
  EXPECT_TRUE(sameContent(small, content.substr(0, 100)));
  EXPECT_TRUE(sameContent(small, content.substr(0, 1024)));  // the file grew: still the same
  EXPECT_FALSE(sameContent(small, content.substr(0, 99)));   // shorter: truncated
  EXPECT_FALSE(sameContent(small, "b" + content.substr(1, 1023)));
  EXPECT_EQ(fingerprintOf(content).bytes, Fingerprint::kBytes);  // at most 1 KiB is hashed
  EXPECT_TRUE(sameContent(Fingerprint{}, ""));                   // an empty file's: anything matches
}

TEST(FollowIdentity, WhereAFileStarts) {
  using Why = StartDecision::Why;
  const std::string head = "first line\nsecond line\n";
  const FollowEntry entry{{1, 2}, fingerprintOf(head), 11, "/var/log/app.log"};
  auto decide = [&](const FollowEntry* e, std::string_view h, uint64_t size, bool existed, bool fromBeginning,
                    bool first) {
    return decideStart(e, h, size, /*endOfLastLine=*/size, existed, fromBeginning, first);
  };

  auto d = decide(&entry, head + "third\n", 29, true, false, true);
  EXPECT_EQ(d.why, Why::Resumed);
  EXPECT_EQ(d.offset, 11u);
  d = decide(&entry, "first line\n", 11, true, false, true);  // shorter than the fingerprint
  EXPECT_EQ(d.why, Why::Truncated);
  EXPECT_EQ(d.offset, 0u);
  d = decide(&entry, "other content, same length!", 27, true, false, true);
  EXPECT_EQ(d.why, Why::InodeReused);
  EXPECT_EQ(d.offset, 0u);
  const FollowEntry past{{1, 2}, fingerprintOf("first"), 100, "/x"};
  d = decide(&past, head, 23, true, false, true);  // same start, but shorter than the offset
  EXPECT_EQ(d.why, Why::Truncated);
  EXPECT_EQ(d.offset, 0u);
  // No entry: a state file existed, so the file is new since: from its beginning.
  EXPECT_EQ(decide(nullptr, head, 23, true, false, true).why, Why::New);
  // The very first start: tail -F, unless --from-beginning; files found later: from the beginning.
  d = decide(nullptr, head, 23, false, false, true);
  EXPECT_EQ(d.why, Why::AtEnd);
  EXPECT_EQ(d.offset, 23u);
  EXPECT_EQ(decide(nullptr, head, 23, false, true, true).why, Why::New);
  EXPECT_EQ(decide(nullptr, head, 23, false, false, false).why, Why::New);
}

// ---- the state file -----------------------------------------------------------------------------------

TEST(FollowState, TextRoundTripsPathsWithSpacesAndControlCharacters) {
  const std::vector<FollowEntry> entries = {
      {{64769, 1835011}, fingerprintOf("abc"), 52314, "/var/log/app.log", 0x9e32e4cedc55ecc0ULL, 1200},
      {{1, 2}, Fingerprint{}, 0, "/tmp/with space/and\nnewline\\x.log", 1, 1},
  };
  const std::string text = formatFollowState(entries);
  EXPECT_TRUE(text.starts_with("logship-follow-state 2\n")) << text;
  EXPECT_NE(text.find("64769 1835011 3 "), std::string::npos) << text;
  EXPECT_NE(text.find(" 52314 9e32e4cedc55ecc0 1200 /var/log/app.log\n"), std::string::npos) << text;
  EXPECT_EQ(parseFollowState(text, "s"), entries);
}

TEST(FollowState, VersionOneIsStillReadWithoutStreams) {
  const auto entries = parseFollowState("logship-follow-state 1\n64769 1835011 3 00000000000000ff 10 /a b\n", "s");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].offset, 10u);
  EXPECT_EQ(entries[0].path, "/a b");
  EXPECT_EQ(entries[0].stream, 0u);  // a new stream is chosen for it
}

TEST(FollowState, DamageIsOneErrorNamingTheFileAndLine) {
  auto errorOf = [](const std::string& text) {
    try {
      parseFollowState(text, "/var/lib/logship/app.state");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(errorOf(""),
            "state file /var/lib/logship/app.state:1: the file is empty (a state file starts with its "
            "version line)");
  EXPECT_EQ(errorOf("{\"json\": 1}\n"),
            "state file /var/lib/logship/app.state:1: not a log_producer state file (it "
            "does not start with 'logship-follow-state 2')");
  EXPECT_EQ(errorOf("logship-follow-state 3\n"),
            "state file /var/lib/logship/app.state:1: version 3 is not supported "
            "(this log_producer reads versions 1 and 2)");
  EXPECT_EQ(errorOf("logship-follow-state 2\n1 2 3 00000000000000ff 10 /a\n"),
            "state file /var/lib/logship/app.state:2: expected 'DEVICE INODE FINGERPRINT-BYTES FINGERPRINT OFFSET "
            "STREAM LINE PATH', not '1 2 3 00000000000000ff 10 /a'");
  EXPECT_EQ(errorOf("logship-follow-state 1\n# c\n1 2 3 00000000000000ff 10 /a\n1 2 x 00000000000000ff 10 /b\n"),
            "state file /var/lib/logship/app.state:4: expected 'DEVICE INODE FINGERPRINT-BYTES FINGERPRINT OFFSET "
            "PATH', not '1 2 x 00000000000000ff 10 /b'");
  EXPECT_EQ(errorOf("logship-follow-state 1\n1 2 3 00000000000000ff 10\n"),
            "state file /var/lib/logship/app.state:2: expected 'DEVICE INODE FINGERPRINT-BYTES FINGERPRINT OFFSET "
            "PATH', not '1 2 3 00000000000000ff 10'");
  EXPECT_EQ(errorOf("logship-follow-state 1\n1 2 2048 00000000000000ff 10 /a\n"),
            "state file /var/lib/logship/app.state:2: fingerprint of 2048 bytes: at most 1024");
  EXPECT_EQ(errorOf("logship-follow-state 1\n1 2 3 00000000000000ff 10 /a"),
            "state file /var/lib/logship/app.state:2: the last line is incomplete (the file was cut)");
}

TEST(FollowState, TheFileIsLockedAgainstASecondProducerAndSavedWhole) {
  TempDir dir;
  const std::string path = dir / "sub/app.state";  // the directory is made
  {
    FollowStateFile state(path);
    EXPECT_FALSE(state.existed());
    try {
      FollowStateFile second(path);
      FAIL() << "a second producer got the lock";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("is in use by another log_producer"), std::string::npos) << e.what();
    }
    state.save({{{1, 2}, Fingerprint{}, 7, "/a"}});
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  }
  FollowStateFile again(path);
  EXPECT_TRUE(again.existed());
  ASSERT_EQ(again.loaded().size(), 1u);
  EXPECT_EQ(again.loaded()[0].offset, 7u);
}

TEST(FollowState, ADamagedFileStopsTheStartAndSaysWhatToDo) {
  TempDir dir;
  const std::string path = dir / "app.state";
  append(path, "logship-follow-state 1\ngarbage\n");
  try {
    FollowStateFile state(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2: expected"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("repair or remove it"), std::string::npos) << e.what();
  }
}

// ---- checkpoint marks -----------------------------------------------------------------------------

TEST(CheckpointMarks, OffsetsApplyOnceTheRecordsBeforeThemAreSettled) {
  CheckpointMarks marks;
  marks.add(2, 1, 0, 100, 3);  // file 1: two records up to offset 100
  marks.add(2, 1, 0, 120, 4);  // an empty line more, no record: replaces the last mark
  marks.add(5, 2, 0, 40, 5);   // file 2
  marks.add(6, 1, 0, 150, 6);
  EXPECT_EQ(marks.size(), 3u);
  std::vector<std::pair<uint64_t, uint64_t>> applied;
  auto apply = [&](const CheckpointMarks::Mark& m) { applied.emplace_back(m.file, m.offset); };
  marks.settle(1, apply);
  EXPECT_TRUE(applied.empty());
  marks.settle(5, apply);
  EXPECT_EQ(applied, (std::vector<std::pair<uint64_t, uint64_t>>{{1, 120}, {2, 40}}));
  marks.settle(6, apply);
  EXPECT_EQ(applied.back(), (std::pair<uint64_t, uint64_t>{1, 150}));
  EXPECT_TRUE(marks.empty());
}

TEST(CheckpointMarks, MemoryStaysBoundedByMergingMarksOfOneFile) {
  CheckpointMarks marks;
  for (uint64_t i = 1; i <= 100'000; ++i) marks.add(i, 7, 0, i * 10, i);
  EXPECT_LE(marks.size(), CheckpointMarks::kCoalesceAbove);
  uint64_t last = 0;
  marks.settle(UINT64_MAX, [&](const CheckpointMarks::Mark& m) { last = m.offset; });
  EXPECT_EQ(last, 1'000'000u);  // merged marks move later, never past what is settled
}

// ---- FileInput on real files, a scripted broker ----------------------------------------------------

struct Follower {
  testing::PublishScript script;  // confirms at once
  FollowMetrics metrics;
  TextFormat format;
  std::unique_ptr<Shipper> shipper;
  std::unique_ptr<FileInput> input;

  Follower(FileInputOptions o) {
    ShipperOptions so;
    so.batchRecords = 1;
    so.linger = 0ms;
    o.pollInterval = 10ms;
    o.saveInterval = 0ms;
    input = std::make_unique<FileInput>(std::move(o), format, Record{}, metrics);
    shipper = std::make_unique<Shipper>(testing::fakePublishers(script), Record{}, so);
  }
  // Runs the input for a while (its reads and checkpoints).
  void run(std::chrono::milliseconds d) {
    const auto end = Clock::now() + d;
    while (Clock::now() < end) {
      input->read(*shipper);
      std::this_thread::sleep_for(5ms);
    }
  }
  std::vector<std::string> stop() {
    input->endOfInput(*shipper);
    shipper->finish(false);
    input->afterFinish(*shipper);
    return testing::publishedBodies(script);
  }
};

FileInputOptions options(const TempDir& dir, std::vector<std::string> patterns) {
  FileInputOptions o;
  o.patterns = std::move(patterns);
  o.stateFile = dir / "state";
  o.closeRotatedAfter = 100ms;
  return o;
}

TEST(FileInput, FirstStartAtTheEndThenRotationByRenameLosesNothing) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "old 1\nold 2\n");
  Follower f(options(dir, {log}));
  append(log, "a1\na2\n");
  f.run(50ms);
  append(log, "a3\n");
  std::filesystem::rename(log, log + ".1");  // logrotate's rename...
  append(log + ".1", "a4 written before the writer reopened\n");
  append(log, "b1\n");  // ...and the new file
  f.run(300ms);
  append(log, "b2 partial");
  f.run(50ms);
  const auto bodies = f.stop();
  EXPECT_EQ(bodies, (std::vector<std::string>{"a1", "a2", "a3", "a4 written before the writer reopened", "b1"}));
  EXPECT_EQ(f.metrics.rotations.value(), 1u);
  // The state: the new file, up to the partial line; the old one closed and settled: gone.
  const auto text = parseFollowState(
      [&] {
        std::ifstream in(dir / "state");
        return std::string(std::istreambuf_iterator<char>(in), {});
      }(),
      "state");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].path, log);
  EXPECT_EQ(text[0].offset, 3u);
}

TEST(FileInput, ARestartResumesExactlyAndFindsAFileRotatedMeanwhile) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "");
  {
    Follower f(options(dir, {log}));
    append(log, "1\n2\n3\n");
    f.run(50ms);
    EXPECT_EQ(f.stop(), (std::vector<std::string>{"1", "2", "3"}));
  }
  append(log, "4\n5\n");
  std::filesystem::rename(log, log + "-20261127");
  append(log, "new 1\n");
  {
    Follower f(options(dir, {log}));
    f.run(300ms);
    EXPECT_EQ(f.stop(), (std::vector<std::string>{"4", "5", "new 1"}));
  }
  {
    Follower f(options(dir, {log}));
    append(log, "new 2\n");
    f.run(50ms);
    EXPECT_EQ(f.stop(), (std::vector<std::string>{"new 2"}));
  }
}

TEST(FileInput, ALineReadAgainAfterACrashHasTheIdItHad) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "a1\n");
  auto o = options(dir, {log});
  o.fromBeginning = true;
  std::vector<std::string> firstIds;
  {
    Follower f(o);
    f.run(50ms);
    std::filesystem::copy_file(dir / "state", dir / "state.after-a1");  // the last save before the crash
    append(log, "a2\n\na3\n");
    f.run(50ms);
    firstIds = testing::headerValues(f.script, wire::kId);
  }  // killed: never stopped
  std::filesystem::copy_file(dir / "state.after-a1", dir / "state", std::filesystem::copy_options::overwrite_existing);
  Follower again(o);
  again.run(50ms);
  const auto bodies = again.stop();
  EXPECT_EQ(bodies, (std::vector<std::string>{"a2", "a3"}));
  ASSERT_EQ(firstIds.size(), 3u);
  const std::string stream = firstIds[0].substr(0, firstIds[0].rfind('-'));
  EXPECT_TRUE(stream.starts_with("file-")) << stream;
  EXPECT_EQ(firstIds, (std::vector<std::string>{stream + "-1", stream + "-2", stream + "-4"}));  // line 3 is empty
  EXPECT_EQ(testing::headerValues(again.script, wire::kId),
            (std::vector<std::string>{stream + "-2", stream + "-4"}));  // the ids they had
}

TEST(FileInput, CopytruncateReadsTheRestFromTheCopyFirst) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "");
  auto o = options(dir, {log});
  o.fromBeginning = true;
  Follower f(o);
  append(log, "before 1\n");
  f.run(50ms);
  append(log, "before 2\nbefore 3\n");  // not read yet when logrotate copies and truncates
  std::filesystem::copy_file(log, log + ".1");
  ::truncate(log.c_str(), 0);
  append(log, "after 1\n");
  f.run(50ms);
  EXPECT_EQ(f.stop(), (std::vector<std::string>{"before 1", "before 2", "before 3", "after 1"}));
  EXPECT_EQ(f.metrics.rotations.value(), 1u);
  const auto ids = testing::headerValues(f.script, wire::kId);
  ASSERT_EQ(ids.size(), 4u);
  auto stream = [](const std::string& id) { return id.substr(0, id.rfind('-')); };
  EXPECT_EQ(ids[2], stream(ids[0]) + "-3");   // the copy's lines: the same stream
  EXPECT_NE(stream(ids[3]), stream(ids[0]));  // the new content: a new one
}

TEST(FileInput, CopytruncateStartsAgainFromTheBeginningOfTheSameFile) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "");
  auto o = options(dir, {log});
  o.fromBeginning = true;
  Follower f(o);
  append(log, "before 1\nbefore 2\n");
  f.run(50ms);
  std::filesystem::copy_file(log, log + ".1");
  ::truncate(log.c_str(), 0);
  append(log, "after 1\n");
  f.run(50ms);
  // Truncated and written past the old offset between two looks: the fingerprint tells.
  ::truncate(log.c_str(), 0);
  append(log, "after truncation, longer than before 2\n");
  f.run(50ms);
  EXPECT_EQ(f.stop(),
            (std::vector<std::string>{"before 1", "before 2", "after 1", "after truncation, longer than before 2"}));
  EXPECT_EQ(f.metrics.rotations.value(), 2u);
}

TEST(FileInput, AGlobPicksUpNewFilesFromTheirBeginningAndSkipsCompressedOnes) {
  TempDir dir;
  append(dir / "a.log", "a old\n");
  Follower f(options(dir, {dir / "*.log*"}));
  append(dir / "a.log", "a new\n");
  append(dir / "b.log", "b 1\nb 2\n");
  append(dir / "c.log.gz", "\x1f\x8b binary\n");
  f.run(100ms);
  auto bodies = f.stop();
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"a new", "b 1", "b 2"}));
  EXPECT_EQ(f.metrics.filesOpen.value(), 2.0);
}

TEST(FileInput, ALineOverTheLimitIsRefusedAndTheOffsetsStayExact) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "");
  auto o = options(dir, {log});
  o.maxLineBytes = 100;
  {
    Follower f(o);
    append(log, "short 1\n" + std::string(5000, 'z') + "\nshort 2\n");
    f.run(50ms);
    EXPECT_EQ(f.stop(), (std::vector<std::string>{"short 1", "short 2"}));
    EXPECT_EQ(f.shipper->report().refused, 1u);  // counted: the producer exits 1, as for stdin
  }
  Follower again(o);
  append(log, "short 3\n");
  again.run(50ms);
  EXPECT_EQ(again.stop(), (std::vector<std::string>{"short 3"}));  // resumed exactly after the refused line
}

TEST(FileInput, MultilineRecordsOfEachFileAreJoinedAndTheStateKeepsAPendingOne) {
  TempDir dir;
  const std::string log = dir / "app.log";
  append(log, "");
  auto o = options(dir, {log});
  o.multiline.rule = MultilineRule::indented();
  o.multiline.timeout = 10s;
  {
    Follower f(o);
    append(log, "first\n\tat a\n\tat b\nsecond\n\tat c\n");
    // "second" is pending (timeout 10 s): the checkpoint stops at its start once "first" is settled.
    uint64_t offset = 0;
    for (int i = 0; i < 200 && offset != 18; ++i) {
      f.run(10ms);
      std::ifstream in(dir / "state");
      const auto entries = parseFollowState(std::string(std::istreambuf_iterator<char>(in), {}), "state");
      ASSERT_EQ(entries.size(), 1u);
      offset = entries[0].offset;
    }
    EXPECT_EQ(offset, 18u);  // "first\n\tat a\n\tat b\n"
    EXPECT_EQ(f.stop(), (std::vector<std::string>{"first\n\tat a\n\tat b", "second\n\tat c"}));
  }
}

}  // namespace
}  // namespace logship
