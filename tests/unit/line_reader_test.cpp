#include "producer/line_reader.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using logship::LineReader;
using namespace std::chrono_literals;

namespace {

struct Pipe {
  int fds[2];
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    ::close(fds[0]);
    if (fds[1] >= 0) ::close(fds[1]);
  }
  void write(const std::string& s) { ASSERT_EQ(::write(fds[1], s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  void closeWrite() {
    ::close(fds[1]);
    fds[1] = -1;
  }
};

// Reads everything; too-long lines appear as "<skipped N>".
// Every line up to the end of the input; an idle wait of 2 s ends it too ("<idle>") unless
// `untilEof` (a writer that may be slow to start: it must not be left blocked on a full pipe).
std::vector<std::string> readAll(int fd, size_t max, bool untilEof = false) {
  LineReader reader(fd, max);
  std::vector<std::string> lines;
  std::string_view line;
  size_t skipped = 0;
  for (;;) {
    switch (reader.next(line, skipped, 2000ms)) {
      case LineReader::Result::Line: lines.emplace_back(line); break;
      case LineReader::Result::TooLong: lines.push_back("<skipped " + std::to_string(skipped) + ">"); break;
      case LineReader::Result::Idle:
        if (untilEof) break;
        lines.push_back("<idle>");
        return lines;
      case LineReader::Result::Eof: return lines;
    }
  }
}

}  // namespace

TEST(LineReader, SplitsLinesAndStripsCr) {
  Pipe p;
  p.write("one\ntwo\r\n\nthree");
  p.closeWrite();
  EXPECT_EQ(readAll(p.fds[0], 100), (std::vector<std::string>{"one", "two", "", "three"}));
}

TEST(LineReader, SkipsOverLongLinesAndKeepsGoing) {
  Pipe p;
  std::thread writer([&] {
    p.write("short\n" + std::string(300'000, 'x') + "\nafter\n" + std::string(20, 'y') + "\n");
    p.closeWrite();
  });
  const auto lines = readAll(p.fds[0], 10);
  writer.join();
  EXPECT_EQ(lines, (std::vector<std::string>{"short", "<skipped 300000>", "after", "<skipped 20>"}));
}

TEST(LineReader, LineExactlyAtTheLimitIsKept) {
  Pipe p;
  p.write(std::string(10, 'a') + "\n" + std::string(11, 'b') + "\n");
  p.closeWrite();
  EXPECT_EQ(readAll(p.fds[0], 10), (std::vector<std::string>{std::string(10, 'a'), "<skipped 11>"}));
}

TEST(LineReader, ReportsIdleWhenNoInputArrives) {
  Pipe p;
  p.write("partial");
  LineReader reader(p.fds[0], 100);
  std::string_view line;
  size_t skipped = 0;
  EXPECT_EQ(reader.next(line, skipped, 50ms), LineReader::Result::Idle);
  p.write(" line\n");
  ASSERT_EQ(reader.next(line, skipped, 1000ms), LineReader::Result::Line);
  EXPECT_EQ(line, "partial line");
  EXPECT_EQ(reader.lineNumber(), 1u);
}

TEST(LineReader, ManyLinesAcrossBufferBoundaries) {
  Pipe p;
  std::thread writer([&] {
    std::string chunk;
    for (int i = 0; i < 100'000; ++i) chunk += "record number " + std::to_string(i) + "\n";
    p.write(chunk);
    p.closeWrite();
  });
  // Building the text takes seconds under ThreadSanitizer on a loaded machine: read to the end.
  const auto lines = readAll(p.fds[0], 1024, true);
  writer.join();
  ASSERT_EQ(lines.size(), 100'000u);
  for (int i = 0; i < 100'000; i += 9973) EXPECT_EQ(lines[i], "record number " + std::to_string(i));
  EXPECT_EQ(lines.back(), "record number 99999");
}
