// Compressed batches (core/compress.hpp, docs/FORMATS.md "Compressed batches"): what a producer
// with --compress zstd sends decodes to the same records, and a body that does not inflate is a
// clear decode error (the aggregator dead-letters it with that reason), never a crash.
#include <gtest/gtest.h>
#include <zstd.h>

#include <memory>

#include "core/compress.hpp"
#include "core/message.hpp"

using namespace logship;

namespace {

Record first() {
  Record r;
  r.timestampUs = 1'700'000'000'000'000;
  r.level = Level::Warn;
  r.service = "api";
  r.host = "web-1";
  r.id = "abc-10";
  r.message = "GET /orders/1 200";
  return r;
}

Message batchOf(size_t n, int level) {
  BatchBuilder b;
  b.setCompression(level);
  b.start(first());
  for (size_t i = 1; i < n; ++i)
    b.add("GET /orders/" + std::to_string(i + 1) + " 200 user=alice", 1'700'000'000'000'000 + i);
  Message m;
  b.finish(m);
  return m;
}

const Header* header(const Message& m, std::string_view key) {
  for (const auto& h : m.headers) {
    if (h.key == key) return &h;
  }
  return nullptr;
}

std::string decodeError(const Message& m) {
  std::vector<Record> out;
  std::string error;
  EXPECT_FALSE(decodeRecords(m.body, m.headers, 0, out, error));
  EXPECT_TRUE(out.empty());
  return error;
}

}  // namespace

TEST(Compression, ParsesTheFlagsForms) {
  EXPECT_EQ(parseCompression("none")->zstdLevel, 0);
  EXPECT_EQ(parseCompression("zstd")->zstdLevel, 1);
  EXPECT_EQ(parseCompression("zstd:3")->zstdLevel, 3);
  EXPECT_EQ(parseCompression("zstd:19")->zstdLevel, 19);
  for (const char* bad : {"", "gzip", "zstd:", "zstd:0", "zstd:20", "zstd:-1", "zstd:3x", "ZSTD", "zstd: 3"}) {
    EXPECT_FALSE(parseCompression(bad)) << bad;
  }
  EXPECT_EQ(formatCompression(Compression{3}), "zstd:3");
  EXPECT_EQ(formatCompression(Compression{}), "none");
}

TEST(Compression, CompressedBatchDecodesToTheSameRecords) {
  const Message plain = batchOf(500, 0);
  const Message packed = batchOf(500, 3);
  EXPECT_EQ(header(plain, wire::kEncoding), nullptr);
  ASSERT_NE(header(packed, wire::kEncoding), nullptr);
  EXPECT_EQ(header(packed, wire::kEncoding)->value, "zstd");
  EXPECT_TRUE(isZstdBatch(packed));
  EXPECT_FALSE(isZstdBatch(plain));
  EXPECT_LT(packed.body.size() * 4, plain.body.size());
  std::vector<Record> a, b;
  std::string error;
  ASSERT_TRUE(decodeRecords(plain.body, plain.headers, 0, a, error)) << error;
  ASSERT_TRUE(decodeRecords(packed.body, packed.headers, 0, b, error)) << error;
  ASSERT_EQ(a.size(), 500u);
  EXPECT_EQ(a, b);
  DecodedMessage d;  // the aggregator's path, reused for a plain message after a compressed one
  ASSERT_TRUE(d.decode(packed.body, packed.headers, 0, error)) << error;
  EXPECT_EQ(d.message(499), "GET /orders/500 200 user=alice");
  ASSERT_TRUE(d.decode(plain.body, plain.headers, 0, error)) << error;
  EXPECT_EQ(d.message(1), "GET /orders/2 200 user=alice");
}

TEST(Compression, OneRecordIsNeverCompressed) {
  const Message m = batchOf(1, 1);
  EXPECT_FALSE(isZstdBatch(m));
  EXPECT_EQ(m.body, "GET /orders/1 200");
}

TEST(Compression, CorruptOrTruncatedBodyIsAClearError) {
  Message m = batchOf(200, 1);
  Message truncated = m;
  truncated.body.resize(truncated.body.size() / 2);

  EXPECT_NE(decodeError(truncated).find("truncated or corrupt"), std::string::npos) << decodeError(truncated);
  Message corrupt = m;
  for (size_t i = 12; i < corrupt.body.size(); i += 7) corrupt.body[i] = static_cast<char>(corrupt.body[i] ^ 0x5a);
  EXPECT_NE(decodeError(corrupt).find("zstd"), std::string::npos);
  Message notZstd = m;
  notZstd.body = "hello\nworld";
  EXPECT_NE(decodeError(notZstd).find("is not a zstd frame"), std::string::npos) << decodeError(notZstd);
  Message trailing = m;
  trailing.body += "xx";
  EXPECT_NE(decodeError(trailing).find("2 bytes after its frame"), std::string::npos) << decodeError(trailing);
  Message other = m;
  for (auto& h : other.headers) {
    if (h.key == wire::kEncoding) h.value = "gzip";
  }
  EXPECT_EQ(decodeError(other), "unsupported logship-encoding 'gzip' (this version reads zstd)");
}

TEST(Compression, ABodyDeclaringMoreThanTheLimitIsRefusedBeforeInflating) {
  // 100 MiB of zeros compress to a few KB: a "zip bomb" must not take 100 MiB of memory.
  const std::string zeros(size_t{100} << 20, '\0');
  std::string bomb(ZSTD_compressBound(zeros.size()), '\0');
  bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), zeros.data(), zeros.size(), 1));
  Message m = batchOf(2, 1);
  m.body = bomb;
  EXPECT_NE(decodeError(m).find("over the limit of"), std::string::npos) << decodeError(m);
}

TEST(Compression, APlainMessagesEncodingHeaderIsIgnored) {
  // Without logship-version a message is a plain record from any client: its body is the text.
  Message m;
  m.body = "not compressed";
  m.headers.push_back({std::string(wire::kEncoding), "zstd"});
  std::vector<Record> out;
  std::string error;
  ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, out, error)) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message, "not compressed");
}

TEST(Compression, AFrameWithoutItsSizeIsReadUpToTheLimit) {
  // A streaming compressor (the zstd command reading a pipe) writes no content size.
  const std::string text = "a\nb\nc";
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> c(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(c.get(), ZSTD_c_contentSizeFlag, 0);
  std::string frame(ZSTD_compressBound(text.size()) + 64, '\0');
  ZSTD_inBuffer in{text.data(), text.size(), 0};
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(c.get(), &out, &in, ZSTD_e_end), 0u);
  frame.resize(out.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Message m = batchOf(3, 1);
  m.body = frame;
  std::vector<Record> records;
  std::string error;
  ASSERT_TRUE(decodeRecords(m.body, m.headers, 0, records, error)) << error;
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].message, "c");
}
