// A stream reader's place (aggregator/stream_offset.hpp) and how the collector keeps it: the file
// format, a damaged or foreign file refused (never a silent start from --stream-from), --stream-from
// parsing, and the collector saving the offset after the lines are written and before the ack,
// never judging a stream delivery as poison and never giving stream deliveries back.
#include "aggregator/stream_offset.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "aggregator/collector.hpp"
#include "aggregator/router.hpp"
#include "core/error.hpp"
#include "sink_test_support.hpp"
#include "support/fake_broker.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace logship;
using logship::testing::appendToFile;
using logship::testing::readFile;

namespace {

class StreamOffsetTest : public ::testing::Test {
 protected:
  void SetUp() override { path = dir + "/out.log.offset"; }
  // The message of the Error opening `path` for queue q throws ("" if it opens).
  std::string openError(const std::string& queue = "q") {
    try {
      StreamOffsetFile f(path, queue, 0640, false);
    } catch (const Error& e) {
      return e.what();
    }
    return {};
  }
  logship::testing::TempDir tmp;
  std::string dir = tmp.path();
  std::string path;
};

}  // namespace

TEST_F(StreamOffsetTest, NoFileMeansNoSavedPlace) {
  StreamOffsetFile f(path, "q", 0640, false);
  EXPECT_FALSE(f.next().has_value());
  EXPECT_FALSE(fs::exists(path)) << "nothing is created before the first save";
}

TEST_F(StreamOffsetTest, ASavedOffsetIsReadBackAndTheFormatIsTheDocumentedOne) {
  {
    StreamOffsetFile f(path, "logs stream", 0640, true);
    f.save(0);
    f.save(12345);
  }
  EXPECT_EQ(readFile(path), "logship-stream-offset 1\nqueue logs stream\nnext 12345\n");
  StreamOffsetFile again(path, "logs stream", 0640, false);
  ASSERT_TRUE(again.next().has_value());
  EXPECT_EQ(*again.next(), 12345);
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "no temporary left: " << e.path();
  }
}

TEST_F(StreamOffsetTest, ADamagedFileIsAnErrorNamingItNeverAStartFromTheBeginning) {
  const std::string good = StreamOffsetFile::format("q", 77);
  // Torn anywhere, emptied (a power loss without --fsync), garbage, a bad number.
  std::vector<std::string> damaged{"",
                                   "garbage\n",
                                   "logship-stream-offset 2\nqueue q\nnext 1\n",
                                   "logship-stream-offset 1\nqueue q\nnext -1\n",
                                   "logship-stream-offset 1\nqueue q\nnext 12x\n",
                                   "logship-stream-offset 1\nqueue q\nnext 012\n",
                                   "logship-stream-offset 1\nqueue q\nnext 99999999999999999999\n",
                                   "logship-stream-offset 1\nqueue q\nnext 77\nmore\n"};
  for (size_t cut = 0; cut < good.size(); ++cut) damaged.push_back(good.substr(0, cut));
  for (const std::string& text : damaged) {
    fs::remove(path);
    appendToFile(path, text);
    const std::string error = openError();
    EXPECT_NE(error.find(path), std::string::npos) << "refused, naming the file: " << text;
    EXPECT_NE(error.find("--stream-from"), std::string::npos) << "and the way out: " << error;
  }
  fs::remove(path);
  appendToFile(path, good);
  EXPECT_EQ(openError(), "");
}

TEST_F(StreamOffsetTest, TheFileOfAnotherStreamIsRefused) {
  appendToFile(path, StreamOffsetFile::format("other", 5));
  const std::string error = openError("q");
  EXPECT_NE(error.find("another stream (queue other)"), std::string::npos) << error;
  EXPECT_NE(error.find("'q'"), std::string::npos) << error;
}

TEST(StreamStartTest, ParsesFirstLastNextOffsetsAndTimes) {
  using Kind = StreamStart::Kind;
  EXPECT_EQ(parseStreamStart("first")->kind, Kind::First);
  EXPECT_EQ(parseStreamStart("last")->kind, Kind::Last);
  EXPECT_EQ(parseStreamStart("next")->kind, Kind::Next);
  const auto offset = parseStreamStart("4096");
  ASSERT_TRUE(offset);
  EXPECT_EQ(offset->kind, Kind::Offset);
  EXPECT_EQ(offset->value, 4096);
  const auto time = parseStreamStart("2026-12-06T08:00:00.900+01:00");
  ASSERT_TRUE(time);
  EXPECT_EQ(time->kind, Kind::Timestamp);
  EXPECT_EQ(time->value, 1796540400) << "seconds since the epoch, UTC";
  EXPECT_EQ(parseStreamStart("2026-12-06")->value, 1796515200);
  for (const char* bad : {"", "First", "-1", "1.5", "yesterday", "2026-13-01", "1h", " first"}) {
    EXPECT_FALSE(parseStreamStart(bad)) << bad;
  }
}

namespace {

Delivery streamDelivery(uint64_t tag, int64_t offset, std::string body, std::vector<Header> headers = {}) {
  Delivery d;
  d.tag = tag;
  d.streamOffset = offset;
  d.body = std::move(body);
  d.headers = std::move(headers);
  return d;
}

}  // namespace

TEST_F(StreamOffsetTest, TheCollectorSavesTheOffsetAfterTheLinesAndBeforeTheAck) {
  const std::string output = dir + "/out.log";
  FileSink sink(output);
  Router router(sink, false);
  std::atomic<bool> stop{false};
  // A record that failed many times in a queue before it was moved into the stream: a stream
  // delivery is never judged by its history (a stream never redelivers), it is written.
  logship::testing::FakeConsumer consumer;
  consumer.push(streamDelivery(1, 40, "a"));
  consumer.push(streamDelivery(2, 41, "b"));
  consumer.push(streamDelivery(3, 42, "c", {{"logship-deliveries", "9"}}));
  consumer.whenIdle = [&] { stop = true; };
  std::string offsetAtAck;
  std::string outputAtAck;
  consumer.onAck = [&](uint64_t) {
    offsetAtAck = readFile(path);
    outputAtAck = readFile(output);
  };
  StreamOffsetFile offsets(path, "q", 0640, false);
  int publishers = 0;
  CollectorOptions options;
  options.format = OutputFormat::Raw;
  options.maxDeliveries = 5;
  Collector collector(
      consumer, router,
      [&](const std::string&, PublishRoute) -> std::unique_ptr<Publisher> {
        ++publishers;
        return nullptr;
      },
      "q", options, stop);
  collector.setStreamOffsets(&offsets);
  collector.run();
  EXPECT_EQ(readFile(output), "a\nb\nc\n");
  EXPECT_EQ(consumer.acked(), 3u);
  EXPECT_EQ(outputAtAck, "a\nb\nc\n") << "the lines were in the output before the ack";
  EXPECT_EQ(offsetAtAck, StreamOffsetFile::format("q", 43)) << "and the offset after them saved";
  EXPECT_EQ(collector.stats().poison, 0u);
  EXPECT_EQ(publishers, 0) << "nothing dead-lettered, put back or given back";
  EXPECT_EQ(consumer.handBacks, 1);
  EXPECT_EQ(*StreamOffsetFile(path, "q", 0640, false).next(), 43);
}
