// The POSIX file layer (core/file.hpp) and what the output sink, the duplicate journal, the spool
// and the follow state build on it: no write through a symbolic link, default modes, temporaries
// under unguessable names.
#include "core/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "aggregator/file_sink.hpp"
#include "aggregator/output_lock.hpp"
#include "producer/input/follow_state.hpp"
#include "producer/spool.hpp"
#include "sink_test_support.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using logship::testing::appendToFile;
using logship::testing::readFile;

namespace {

class FileLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    oldMask = ::umask(022);  // the usual one: the defaults must not rely on a stricter umask
  }
  void TearDown() override { ::umask(oldMask); }
  mode_t modeOf(const std::string& path) const {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  logship::testing::TempDir tmp;
  std::string dir = tmp.path();
  mode_t oldMask = 0;
};

TEST_F(FileLayerTest, UniqueFdClosesAndMoves) {
  const int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(raw, 0);
  {
    logship::UniqueFd a(raw);
    logship::UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed once, by its last owner
  EXPECT_EQ(errno, EBADF);
}

TEST_F(FileLayerTest, OpenFileRefusesALinkUnlessAsked) {
  const std::string target = dir + "/target";
  appendToFile(target, "secret\n");
  fs::create_symlink(target, dir + "/link");
  EXPECT_FALSE(logship::openFile(dir + "/link", O_WRONLY | O_APPEND).valid());
  EXPECT_EQ(errno, ELOOP);
  EXPECT_TRUE(logship::openFile(dir + "/link", O_RDONLY, 0, true).valid());
}

TEST_F(FileLayerTest, ReplaceFileNeverWritesThroughALinkAndUsesAnUnguessableTemporary) {
  const std::string target = dir + "/target";
  appendToFile(target, "precious\n");
  const std::string state = dir + "/follow.state";
  fs::create_symlink(target, state + ".tmp");  // the temporary name of earlier versions
  logship::replaceFile(state, "new\n", 0600, true);
  EXPECT_EQ(readFile(target), "precious\n");
  EXPECT_EQ(readFile(state), "new\n");
  EXPECT_EQ(modeOf(state), 0600u);
  size_t temps = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    temps += logship::isTempNameOf(e.path().filename().string(), "follow.state") ? 1 : 0;
  }
  EXPECT_EQ(temps, 0u);
}

TEST_F(FileLayerTest, TemporaryNamesAreRandomHiddenAndRecognised) {
  const logship::TempFile a = logship::createTempBeside(dir + "/out.txt", 0600);
  const logship::TempFile b = logship::createTempBeside(dir + "/out.txt", 0600);
  EXPECT_NE(a.path, b.path);
  const std::string name = fs::path(a.path).filename().string();
  EXPECT_TRUE(logship::isTempNameOf(name, "out.txt")) << name;
  EXPECT_FALSE(logship::isTempNameOf(name, "out.tx"));
  EXPECT_FALSE(logship::isTempNameOf(".out.txt.20261127T140000Z.zst.tmp", "out.txt"));
  logship::removeLeftoverTemps(dir + "/out.txt");
  EXPECT_FALSE(fs::exists(a.path));
  EXPECT_FALSE(fs::exists(b.path));
}

TEST_F(FileLayerTest, TheFollowStateIsNeverWrittenThroughALinkAtItsOldTemporaryName) {
  const std::string target = dir + "/victim";
  appendToFile(target, "do not truncate me\n");
  const std::string state = dir + "/follow.state";
  fs::create_symlink(target, state + ".tmp");
  logship::FollowStateFile file(state);
  file.save({});
  EXPECT_EQ(readFile(target), "do not truncate me\n");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(state)));
}

TEST_F(FileLayerTest, OutputsAndJournalsAre0640AndDirectoriesPrivate) {
  {
    logship::FileSink sink(dir + "/out.txt");
    sink.enableDedup({});
    sink.append("a\n");
    sink.flush(false);
  }
  EXPECT_EQ(modeOf(dir + "/out.txt"), 0640u);
  EXPECT_EQ(modeOf(dir + "/out.txt.ids"), 0640u);
  {
    logship::FileSink sink(dir + "/wide.txt", {0644, false});
    sink.enableDedup({});
  }
  EXPECT_EQ(modeOf(dir + "/wide.txt"), 0644u);
  EXPECT_EQ(modeOf(dir + "/wide.txt.ids"), 0644u);
  { logship::DiskSpool spool(dir + "/spool/sub", {}); }
  EXPECT_EQ(modeOf(dir + "/spool/sub"), 0700u);
  { logship::FollowStateFile state(dir + "/state/follow.state"); }
  EXPECT_EQ(modeOf(dir + "/state"), 0750u);
}

TEST_F(FileLayerTest, ASymlinkedOutputIsRefusedUnlessAllowed) {
  const std::string target = dir + "/elsewhere";
  appendToFile(target, "");
  fs::create_symlink(target, dir + "/out.txt");
  try {
    logship::FileSink sink(dir + "/out.txt");
    FAIL() << "a symlinked output was opened";
  } catch (const logship::SinkError& e) {
    EXPECT_NE(std::string(e.what()).find("--allow-symlink-output"), std::string::npos) << e.what();
  }
  logship::FileSink sink(dir + "/out.txt", {logship::kDefaultFileMode, true});
  sink.append("through the link\n");
  sink.flush(false);
  EXPECT_EQ(readFile(target), "through the link\n");
}

TEST_F(FileLayerTest, AJournalThatIsALinkIsRefused) {
  const std::string target = dir + "/victim";
  appendToFile(target, "keep\n");
  fs::create_symlink(target, dir + "/out.txt.ids");
  logship::FileSink sink(dir + "/out.txt");
  EXPECT_THROW(sink.enableDedup({}), logship::SinkError);
  EXPECT_EQ(readFile(target), "keep\n");
}

TEST_F(FileLayerTest, ADeletedOutputIsReopenedAndTheBatchWrittenAgainBeforeFlushReturns) {
  const std::string out = dir + "/out.txt";
  logship::FileSink sink(out);
  sink.enableDedup({});
  sink.append("first\n");
  sink.flush(false);
  ASSERT_EQ(::unlink(out.c_str()), 0);  // rm out.txt while the aggregator runs
  sink.append("second\nthird\n");
  sink.flush(false);  // returning means: acknowledged records are in the file at the path
  EXPECT_EQ(readFile(out), "second\nthird\n");
  sink.append("fourth\n");
  sink.flush(false);
  EXPECT_EQ(readFile(out), "second\nthird\nfourth\n");
}

TEST_F(FileLayerTest, ASecondWriterOfAnOutputIsRefusedNamingTheFirstUntilItIsGone) {
  const std::string out = dir + "/out.txt";
  {
    const logship::OutputLock first(out, logship::kDefaultFileMode);
    try {
      const logship::OutputLock second(out, logship::kDefaultFileMode);
      FAIL() << "two locks on one output";
    } catch (const logship::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("pid " + std::to_string(::getpid())), std::string::npos) << what;
      EXPECT_NE(what.find("--output"), std::string::npos) << what;
    }
    EXPECT_EQ(logship::OutputLock::pathFor(out), dir + "/.out.txt.lock");
    EXPECT_EQ(modeOf(dir + "/.out.txt.lock"), 0640u);
  }
  EXPECT_NO_THROW(logship::OutputLock(out, logship::kDefaultFileMode));  // released with its owner
}

TEST_F(FileLayerTest, LockFileIsExclusiveAndSaysWhenHeld) {
  const std::string lock = dir + "/lock";
  logship::UniqueFd first = logship::lockFile(lock, 0600);
  ASSERT_TRUE(first.valid());
  EXPECT_EQ(modeOf(lock), 0600u);
  const logship::UniqueFd second = logship::lockFile(lock, 0600);
  EXPECT_FALSE(second.valid());
  EXPECT_EQ(errno, EWOULDBLOCK);
  first.reset();
  EXPECT_TRUE(logship::lockFile(lock, 0600).valid());  // released with its descriptor
  ASSERT_EQ(::symlink(lock.c_str(), (dir + "/link").c_str()), 0);
  EXPECT_FALSE(logship::lockFile(dir + "/link", 0600).valid());  // never through a link
  EXPECT_EQ(errno, ELOOP);
}

TEST_F(FileLayerTest, ReadFileAndTheOneErrorShape) {
  appendToFile(dir + "/a", "one\ntwo");
  std::string text = "kept:";
  ASSERT_TRUE(logship::readFile(dir + "/a", text));
  EXPECT_EQ(text, "kept:one\ntwo");
  EXPECT_FALSE(logship::readFile(dir + "/missing", text));
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(logship::errnoMessage("cannot read", dir + "/missing", ENOENT),
            "cannot read " + dir + "/missing: No such file or directory");
  EXPECT_EQ(logship::directoryOf("name"), ".");
  EXPECT_EQ(logship::directoryOf("/var/log/x"), "/var/log");
}

}  // namespace
