// FileSink under write errors. RLIMIT_FSIZE makes the kernel cut a write at an exact byte (a
// short write, then EFBIG), as a full disk does with ENOSPC, so a test can choose where a line is
// cut and lift the limit again, all in-process (the soft limit can be raised up to the hard one).
#include "aggregator/file_sink.hpp"
#include "sink_test_support.hpp"
#include "support/temp_dir.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

using logship::FileSink;
using logship::SinkError;
using logship::testing::appendToFile;
using logship::testing::readFile;
using logship::testing::underFileSizeLimit;

namespace {

class FileSinkTest : public ::testing::Test {
 protected:
  logship::testing::TempDir tmp;
  std::string path = tmp / "out.log";
  // 9 + 9 + 11 bytes: a limit of 13 cuts "line-two" after "line".
  const std::string lines = "line-one\nline-two\nline-three\n";
};

TEST_F(FileSinkTest, FlushWritesThePendingLinesAndForgetsThem) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_TRUE(sink.hasPending());
  sink.flush(false);
  EXPECT_FALSE(sink.hasPending());
  sink.append("four\n");
  sink.flush(true);
  EXPECT_EQ(readFile(path), lines + "four\n");
}

TEST_F(FileSinkTest, ARetryCompletesACutLineFromTheExactByte) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  EXPECT_EQ(readFile(path), "line-one\nline");
  EXPECT_TRUE(sink.hasPending());
  EXPECT_EQ(sink.completeBytes(), 9u);
  // Still over the limit: nothing more is written, nothing is lost.
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  EXPECT_EQ(readFile(path), "line-one\nline");
  // Room for one more line: it is completed, the next one waits whole.
  EXPECT_EQ(underFileSizeLimit(20, [&] { sink.flush(false); }), EFBIG);
  EXPECT_EQ(readFile(path), "line-one\nline-two\nli");
  EXPECT_EQ(sink.completeBytes(), 18u);
  sink.flush(false);
  EXPECT_EQ(readFile(path), lines);
  EXPECT_FALSE(sink.hasPending());
}

TEST_F(FileSinkTest, LinesAppendedWhileHeldFollowInOrder) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  sink.append("line-four\n");
  sink.flush(false);
  EXPECT_EQ(readFile(path), lines + "line-four\n");
}

TEST_F(FileSinkTest, AFullFileFailsBeforeWritingAnything) {
  {
    FileSink first(path);
    first.append("0123456789\n");
    first.flush(false);
  }
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(11, [&] { sink.flush(false); }), EFBIG);
  EXPECT_EQ(sink.completeBytes(), 0u);
  sink.flush(false);
  EXPECT_EQ(readFile(path), "0123456789\n" + lines);
}

TEST_F(FileSinkTest, TheErrorNamesTheFileAndTheReason) {
  FileSink sink(path);
  sink.append(lines);
  std::string what;
  underFileSizeLimit(5, [&] {
    try {
      sink.flush(false);
    } catch (const SinkError& e) {
      what = e.what();
      throw;
    }
  });
  EXPECT_NE(what.find("cannot write to " + path + ": File too large"), std::string::npos) << what;
}

TEST_F(FileSinkTest, DiscardCutsTheFragmentOffSoTheFileEndsWithAWholeLine) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  sink.discard();
  EXPECT_FALSE(sink.hasPending());
  EXPECT_EQ(readFile(path), "line-one\n");
  sink.append("next\n");
  sink.flush(false);
  EXPECT_EQ(readFile(path), "line-one\nnext\n");
}

TEST_F(FileSinkTest, TheDestructorDiscardsWhatIsPending) {
  {
    FileSink sink(path);
    sink.append(lines);
    EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  }
  EXPECT_EQ(readFile(path), "line-one\n");
}

TEST_F(FileSinkTest, DiscardLeavesTheFragmentWhenAnotherWriterAppendedAfterIt) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  appendToFile(path, "other\n");
  sink.discard();
  EXPECT_EQ(readFile(path), "line-one\nlineother\n");  // theirs is not ours to cut
}

TEST_F(FileSinkTest, AnotherWriterAfterTheFragmentGetsTheLineRewrittenWhole) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  appendToFile(path, "other\n");
  sink.flush(false);
  EXPECT_EQ(readFile(path), "line-one\nlineother\nline-two\nline-three\n");
}

TEST_F(FileSinkTest, ARenamedFileGetsItsCutLineCompletedAndTheRestGoesToANewFile) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(13, [&] { sink.flush(false); }), EFBIG);
  ASSERT_EQ(std::rename(path.c_str(), (path + ".old").c_str()), 0);
  sink.flush(false);
  EXPECT_EQ(readFile(path + ".old"), "line-one\nline-two\n");
  EXPECT_EQ(readFile(path), "line-three\n");
  sink.append("four\n");
  sink.flush(false);
  EXPECT_EQ(readFile(path), "line-three\nfour\n");
}

TEST_F(FileSinkTest, ADeletedFileIsCreatedAgainForWhatIsLeft) {
  FileSink sink(path);
  sink.append(lines);
  EXPECT_EQ(underFileSizeLimit(9, [&] { sink.flush(false); }), EFBIG);  // cut between two lines
  ASSERT_EQ(std::remove(path.c_str()), 0);
  sink.flush(false);
  EXPECT_EQ(readFile(path), "line-two\nline-three\n");
}

TEST_F(FileSinkTest, AnUnopenableOutputIsASinkError) {
  try {
    FileSink sink("/nonexistent-dir/out.log");
    FAIL() << "opened a file in a missing directory";
  } catch (const SinkError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("cannot open output /nonexistent-dir/out.log"), std::string::npos);
  }
}

}  // namespace
