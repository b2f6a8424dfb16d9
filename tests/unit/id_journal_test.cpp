// The duplicate-suppression journal (IdJournal) through FileSink, as the collector uses it. A crash
// is a forked child that leaves with _exit, so no destructor tidies up after it.
#include "aggregator/id_journal.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "sink_test_support.hpp"
#include "support/temp_dir.hpp"

using logship::FileSink;
using logship::IdJournal;
using logship::IdJournalOptions;
using logship::SinkError;
using logship::testing::appendToFile;
using logship::testing::readFile;
using logship::testing::underFileSizeLimit;

namespace {

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

class IdJournalTest : public ::testing::Test {
 protected:
  // Appends one line per id ("line <id>\n") as the collector does.
  static void appendLines(FileSink& sink, const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      sink.append("line " + id + "\n");
      sink.journal()->add(id, sink.pendingBytes());
    }
  }
  std::unique_ptr<FileSink> open(size_t window = 1000, bool fsync = false) {
    auto sink = std::make_unique<FileSink>(path);
    sink->enableDedup(IdJournalOptions{window, fsync});
    return sink;
  }
  logship::testing::TempDir tmp;
  std::string path = tmp / "out.log";
};

TEST_F(IdJournalTest, WrittenIdsAreRememberedAcrossAReopen) {
  {
    auto sink = open(1000, true);
    appendLines(*sink, {"p-1", "p-2"});
    EXPECT_TRUE(sink->journal()->contains("p-1"));  // pending counts: a resend in the same batch is caught
    sink->flush(true);
    appendLines(*sink, {"p-3"});
    sink->append("no id\n");
    sink->flush(true);
  }
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_EQ(r.ids, 3u);
  EXPECT_EQ(r.forgotten, 0u);
  EXPECT_EQ(r.cutBytes, 0);
  EXPECT_FALSE(r.journalDamaged);
  EXPECT_TRUE(sink->journal()->contains("p-1"));
  EXPECT_TRUE(sink->journal()->contains("p-3"));
  EXPECT_FALSE(sink->journal()->contains("p-4"));
  EXPECT_FALSE(sink->journal()->contains(""));
  EXPECT_EQ(readFile(path), "line p-1\nline p-2\nline p-3\nno id\n");
}

TEST_F(IdJournalTest, IdsWithAnyBytesSurviveTheJournal) {
  const std::vector<std::string> ids = {"a b", "new\nline", std::string("nul\0byte", 8), ". 0123\n"};
  {
    auto sink = open();
    for (const auto& id : ids) {
      sink->append("x\n");
      sink->journal()->add(id, sink->pendingBytes());
    }
    sink->flush(false);
  }
  auto sink = open();
  EXPECT_EQ(sink->journal()->recovery().ids, ids.size());
  for (const auto& id : ids) EXPECT_TRUE(sink->journal()->contains(id)) << id;
}

TEST_F(IdJournalTest, ACrashBetweenJournalAndOutputForgetsTheBatch) {
  {
    auto sink = open();
    appendLines(*sink, {"p-1"});
    sink->flush(false);
  }
  // Journal the next batch by hand, as flush does, and die before writing it.
  crashAfter([&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    struct stat st {};
    ::fstat(fd, &st);
    IdJournal journal(path + ".ids", path, fd, IdJournalOptions{});
    journal.add("p-2", 9);
    journal.add("p-3", 18);
    journal.beforeWrite(st.st_dev, st.st_ino, st.st_size, 0, 18);
  });
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_EQ(r.forgotten, 2u);
  EXPECT_EQ(r.cutBytes, 0);
  EXPECT_TRUE(sink->journal()->contains("p-1"));
  EXPECT_FALSE(sink->journal()->contains("p-2"));
  EXPECT_FALSE(sink->journal()->contains("p-3"));
  // Redelivered, they are written now, and remembered across the next reopen (the check rewrote
  // the journal, so the forgotten entry cannot pass for complete once the file has grown).
  appendLines(*sink, {"p-2", "p-3"});
  sink->flush(false);
  sink.reset();
  sink = open();
  EXPECT_EQ(sink->journal()->recovery().forgotten, 0u);
  EXPECT_TRUE(sink->journal()->contains("p-3"));
  EXPECT_EQ(readFile(path), "line p-1\nline p-2\nline p-3\n");
}

TEST_F(IdJournalTest, ATornLastBatchIsCutBackToItsLastCompleteLine) {
  {
    auto sink = open();
    appendLines(*sink, {"p-1"});
    sink->flush(false);
  }
  crashAfter([&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    struct stat st {};
    ::fstat(fd, &st);
    IdJournal journal(path + ".ids", path, fd, IdJournalOptions{});
    journal.add("p-2", 9);
    journal.add("p-3", 18);
    journal.beforeWrite(st.st_dev, st.st_ino, st.st_size, 0, 18);
    const std::string partial = "line p-2\nline";
    if (::write(fd, partial.data(), partial.size()) < 0) ::_exit(1);
  });
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_EQ(r.cutBytes, 4);
  EXPECT_EQ(r.forgotten, 1u);
  EXPECT_EQ(readFile(path), "line p-1\nline p-2\n");
  EXPECT_TRUE(sink->journal()->contains("p-2"));
  EXPECT_FALSE(sink->journal()->contains("p-3"));
}

TEST_F(IdJournalTest, AHeldBatchIsJournaledWithTheOffsetsItReallyGets) {
  // The output already holds 1000 bytes, so a file size limit can cut the output while the journal
  // (much smaller) stays under it.
  appendToFile(path, std::string(999, 'x') + "\n");
  const rlim_t base = 1000;
  crashAfter([&] {
    auto sink = open();
    appendLines(*sink, {"p-1", "p-2", "p-3"});                   // 9 bytes each
    underFileSizeLimit(base + 13, [&] { sink->flush(false); });  // "line p-1\nline"
    appendLines(*sink, {"p-4"});                                 // taken while holding
    underFileSizeLimit(base + 22, [&] { sink->flush(false); });  // completes p-2, cuts p-3 after 4 bytes
    ::_exit(0);                                                  // crash while holding
  });
  EXPECT_EQ(readFile(path).substr(base), "line p-1\nline p-2\nline");
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_EQ(r.cutBytes, 4);
  EXPECT_EQ(r.forgotten, 2u);
  EXPECT_EQ(readFile(path).substr(base), "line p-1\nline p-2\n");
  EXPECT_TRUE(sink->journal()->contains("p-1"));
  EXPECT_TRUE(sink->journal()->contains("p-2"));
  EXPECT_FALSE(sink->journal()->contains("p-3"));
  EXPECT_FALSE(sink->journal()->contains("p-4"));
}

TEST_F(IdJournalTest, ARetryThatSucceedsLeavesNothingToRepair) {
  appendToFile(path, std::string(999, 'x') + "\n");
  crashAfter([&] {
    auto sink = open();
    appendLines(*sink, {"p-1", "p-2"});
    underFileSizeLimit(1013, [&] { sink->flush(false); });
    appendLines(*sink, {"p-3"});
    sink->flush(false);
  });
  auto sink = open();
  EXPECT_EQ(sink->journal()->recovery().cutBytes, 0);
  EXPECT_EQ(sink->journal()->recovery().forgotten, 0u);
  EXPECT_EQ(sink->journal()->size(), 3u);
  EXPECT_EQ(readFile(path).substr(1000), "line p-1\nline p-2\nline p-3\n");
}

TEST_F(IdJournalTest, AnotherOutputFileMakesTheLastEntryUncheckable) {
  {
    auto sink = open();
    appendLines(*sink, {"p-1"});
    sink->flush(false);
    appendLines(*sink, {"p-2"});
    sink->flush(false);
  }
  // Rotated while stopped, and the rotated file is gone (compressed or deleted by another tool).
  ASSERT_EQ(std::rename(path.c_str(), (path + ".old").c_str()), 0);
  ASSERT_EQ(std::remove((path + ".old").c_str()), 0);
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_TRUE(r.outputChanged);
  EXPECT_EQ(r.checkedIn, "");
  EXPECT_EQ(r.forgotten, 1u);
  EXPECT_TRUE(sink->journal()->contains("p-1"));   // written (to the old file) before the last write
  EXPECT_FALSE(sink->journal()->contains("p-2"));  // cannot be checked: forgotten, at worst a duplicate
}

TEST_F(IdJournalTest, ATornJournalEntryIsIgnored) {
  {
    auto sink = open();
    appendLines(*sink, {"p-1"});
    sink->flush(false);
  }
  appendToFile(path + ".ids", "E 1 2 3 4 1\n5 3 p-");
  auto sink = open();
  EXPECT_TRUE(sink->journal()->recovery().journalDamaged);
  EXPECT_TRUE(sink->journal()->contains("p-1"));
  appendLines(*sink, {"p-2"});
  sink->flush(false);
  sink.reset();
  sink = open();  // the torn bytes were dropped when the journal was rewritten
  EXPECT_FALSE(sink->journal()->recovery().journalDamaged);
  EXPECT_TRUE(sink->journal()->contains("p-2"));
}

TEST_F(IdJournalTest, TheWindowKeepsTheMostRecentIdsAndTheJournalStaysSmall) {
  {
    auto sink = open(10);
    for (int i = 0; i < 200; ++i) {
      appendLines(*sink, {"p-" + std::to_string(i)});
      sink->flush(false);
      EXPECT_LE(sink->journal()->size(), 10u);
    }
    EXPECT_FALSE(sink->journal()->contains("p-189"));
    EXPECT_TRUE(sink->journal()->contains("p-190"));
  }
  // Compacted whenever it held more than 2 x 10 ids: a snapshot of at most 10 and a few entries.
  const std::string journal = readFile(path + ".ids");
  EXPECT_LT(journal.size(), 30u * 40u) << journal;
  EXPECT_EQ(journal.rfind("N 0 0 0 0 10\nP 10 1 p ", 0), 0u) << journal;
  auto sink = open(10);
  EXPECT_EQ(sink->journal()->recovery().ids, 10u);
  EXPECT_TRUE(sink->journal()->contains("p-199"));
  EXPECT_TRUE(sink->journal()->contains("p-190"));
  EXPECT_FALSE(sink->journal()->contains("p-189"));
}

TEST_F(IdJournalTest, ACompactionDuringARetryKeepsTheRewrittenLinesOutOfTheSnapshot) {
  appendToFile(path, std::string(999, 'x') + "\n");
  crashAfter([&] {
    auto sink = open(2);
    appendLines(*sink, {"p-1"});
    sink->flush(false);
    appendLines(*sink, {"p-2"});
    sink->flush(false);
    appendLines(*sink, {"p-3", "p-4"});
    underFileSizeLimit(1000 + 18 + 13, [&] { sink->flush(false); });  // p-3 whole, p-4 cut
    // The retry journals p-4 again: 5 ids > 2 x 2, so the journal is compacted first.
    underFileSizeLimit(1000 + 18 + 15, [&] { sink->flush(false); });
    ::_exit(0);
  });
  EXPECT_EQ(readFile(path + ".ids").rfind("N 0 0 0 0 1\nP 1 1 p ", 0), 0u) << readFile(path + ".ids");
  auto sink = open(2);
  EXPECT_EQ(sink->journal()->recovery().cutBytes, 6);
  EXPECT_EQ(sink->journal()->recovery().forgotten, 1u);
  EXPECT_EQ(readFile(path).substr(1000), "line p-1\nline p-2\nline p-3\n");
  EXPECT_TRUE(sink->journal()->contains("p-3"));
  EXPECT_FALSE(sink->journal()->contains("p-4"));
  EXPECT_EQ(sink->journal()->size(), 1u);
}

TEST_F(IdJournalTest, AWindowOfZeroDisablesDeduplication) {
  auto sink = open(0);
  EXPECT_EQ(sink->journal(), nullptr);
  sink->append("x\n");
  sink->flush(false);
  EXPECT_NE(::access((path + ".ids").c_str(), F_OK), 0);
}

TEST_F(IdJournalTest, ADiscardedBatchIsForgotten) {
  appendToFile(path, std::string(999, 'x') + "\n");
  auto sink = open();
  appendLines(*sink, {"p-1", "p-2"});
  underFileSizeLimit(1013, [&] { sink->flush(false); });
  sink->discard();
  EXPECT_TRUE(sink->journal()->contains("p-1"));
  EXPECT_FALSE(sink->journal()->contains("p-2"));
  EXPECT_EQ(readFile(path).substr(1000), "line p-1\n");
}

}  // namespace

// A batch's consecutive ids are one run line with each line's length; other ids one line each.
TEST_F(IdJournalTest, ConsecutiveIdsAreJournaledAsOneRunOfLineLengths) {
  {
    auto sink = open();
    appendLines(*sink, {"a-5", "a-6", "a-7"});  // "line a-5\n": 9 bytes each
    sink->append("no id here\n");               // 11 bytes: the next id's delta counts it
    appendLines(*sink, {"x", "a-8", "b-1", "b-3"});
    sink->flush(false);
  }
  const std::string journal = readFile(path + ".ids");
  EXPECT_EQ(journal.rfind("W ", 0), 0u) << journal;
  EXPECT_NE(journal.find(" 0 72 7\nP 3 1 a 5 9 9 9\nI 1 x 18\nP 1 1 a 8 9\nP 1 1 b 1 9\nP 1 1 b 3 9\n. "),
            std::string::npos)
      << journal;
  auto sink = open();
  EXPECT_EQ(sink->journal()->recovery().ids, 7u);
  for (const char* id : {"a-5", "a-6", "a-7", "x", "a-8", "b-1", "b-3"})
    EXPECT_TRUE(sink->journal()->contains(id)) << id;
  EXPECT_FALSE(sink->journal()->contains("b-2"));
  EXPECT_FALSE(sink->journal()->contains("a-4"));
}

// A crash in the middle of a run's write: the ids of the run's whole lines are kept, the rest forgotten.
TEST_F(IdJournalTest, ATornWriteKeepsThePartOfARunWhoseLinesAreWhole) {
  appendToFile(path, std::string(999, 'x') + "\n");  // so that the limit lets the journal entry through
  crashAfter([&] {
    auto sink = open();
    appendLines(*sink, {"a-1", "a-2", "a-3", "a-4"});
    underFileSizeLimit(1000 + 9 * 2 + 4, [&] { sink->flush(false); });  // a-1, a-2 whole, a-3 cut
    ::_exit(0);
  });
  auto sink = open();
  EXPECT_EQ(sink->journal()->recovery().cutBytes, 4);
  EXPECT_EQ(sink->journal()->recovery().forgotten, 2u);
  EXPECT_EQ(readFile(path).substr(1000), "line a-1\nline a-2\n");
  EXPECT_TRUE(sink->journal()->contains("a-1"));
  EXPECT_TRUE(sink->journal()->contains("a-2"));
  EXPECT_FALSE(sink->journal()->contains("a-3"));
  EXPECT_FALSE(sink->journal()->contains("a-4"));
}

// Journals written by earlier versions (one id per line: E and S entries) are still read.
TEST_F(IdJournalTest, AJournalOfTheEarlierFormatIsRead) {
  const auto fnv = [](std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
    return fmt::format(". {:016x}\n", h);
  };
  appendToFile(path, "line p-2\nline p-3\nli");  // the last write was torn after p-3's line
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  std::string snapshot = "S 0 0 0 0 2\n0 3 p-1\n0 5 other\n";
  snapshot += fnv(snapshot);
  std::string write = fmt::format("E {} {} 0 27 3\n9 3 p-2\n18 3 p-3\n27 3 p-4\n", static_cast<uint64_t>(st.st_dev),
                                  static_cast<uint64_t>(st.st_ino));
  write += fnv(write);
  appendToFile(path + ".ids", snapshot + write);
  auto sink = open();
  const auto& r = sink->journal()->recovery();
  EXPECT_FALSE(r.journalDamaged);
  EXPECT_EQ(r.forgotten, 1u);
  EXPECT_EQ(r.cutBytes, 2);
  EXPECT_EQ(r.ids, 4u);
  for (const char* id : {"p-1", "other", "p-2", "p-3"}) EXPECT_TRUE(sink->journal()->contains(id)) << id;
  EXPECT_FALSE(sink->journal()->contains("p-4"));
  EXPECT_EQ(readFile(path + ".ids").rfind("N 0 0 0 0 4\n", 0), 0u);  // rewritten in the run format
  sink.reset();
  sink = open();
  EXPECT_EQ(sink->journal()->recovery().ids, 4u);
  EXPECT_FALSE(sink->journal()->recovery().journalDamaged);
}

TEST_F(IdJournalTest, AnUnusableJournalSaysHowToRunWithoutOne) {
  ASSERT_EQ(::mkdir((path + ".ids").c_str(), 0755), 0);  // not a file: unusable even for root
  std::string what;
  try {
    open();
  } catch (const SinkError& e) {
    what = e.what();
  }
  ::rmdir((path + ".ids").c_str());
  EXPECT_NE(what.find("cannot open the duplicate journal " + path + ".ids"), std::string::npos) << what;
  EXPECT_NE(what.find("--dedup-window 0"), std::string::npos) << what;
}

// The pending batch's ids (kept per run of consecutive ids, the last one open while lines extend
// it) are found one by one and per run, before the write as after it.
TEST_F(IdJournalTest, PendingIdsAreFoundOneByOneAndPerRun) {
  auto sink = open();
  appendLines(*sink, {"a-5", "a-6", "a-7", "x", "a-8", "b-1", "b-3", "a-9"});
  const auto expectAnswers = [&](const char* when) {
    const IdJournal& j = *sink->journal();
    for (const char* id : {"a-5", "a-6", "a-7", "x", "a-8", "b-1", "b-3", "a-9"}) {
      EXPECT_TRUE(j.contains(id)) << id << " " << when;
    }
    for (const char* id : {"a-4", "a-10", "b-2", "b-4", "c-1", "y"}) EXPECT_FALSE(j.contains(id)) << id << " " << when;
    const auto any = [&](const char* first, uint64_t count) {
      return j.containsAny(logship::recordIdRef(first), count);
    };
    EXPECT_FALSE(any("a-1", 4)) << when;
    EXPECT_TRUE(any("a-1", 5)) << when;  // a-5
    EXPECT_TRUE(any("a-9", 1)) << when;
    EXPECT_FALSE(any("a-10", 50)) << when;
    EXPECT_FALSE(any("b-2", 1)) << when;
    EXPECT_TRUE(any("b-2", 2)) << when;  // b-3
    EXPECT_FALSE(any("b-4", 100)) << when;
    EXPECT_TRUE(any("x", 1)) << when;
    EXPECT_FALSE(any("a-6", 0)) << when;
  };
  expectAnswers("pending");
  sink->flush(false);
  expectAnswers("written");
}
