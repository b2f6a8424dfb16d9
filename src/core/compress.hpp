#pragma once
// zstd-compressed batch bodies (docs/FORMATS.md, "Compressed batches"). A producer with --compress
// zstd sends a batch's body (its records' messages joined by LF) as one zstd frame and marks the
// message with the header logship-encoding: zstd (over AMQP also the content_encoding property, so
// any client can tell). Every reader inflates it before it decodes the records; a body that does
// not inflate is a message that cannot be decoded (a dead letter with the reason, never a crash).
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/message.hpp"

namespace logship {

// --compress: what the producer does to its batches' bodies.
struct Compression {
  int zstdLevel = 0;  // 0: none; else the zstd level (1 to 19)
  bool enabled() const { return zstdLevel != 0; }
};

// "none", "zstd" (level 1) or "zstd:LEVEL" (1 to 19). nullopt for anything else.
std::optional<Compression> parseCompression(std::string_view text);
inline constexpr std::string_view kCompressionSyntax = "none, zstd or zstd:LEVEL (LEVEL 1 to 19; zstd is zstd:1)";
std::string formatCompression(const Compression& c);

// Compresses `in` into `out` (replacing it) as one zstd frame that records its content size. Keeps
// its zstd context between calls (one per thread that compresses).
class BodyCompressor {
 public:
  explicit BodyCompressor(int level);
  ~BodyCompressor();
  BodyCompressor(BodyCompressor&&) noexcept;
  BodyCompressor& operator=(BodyCompressor&&) noexcept;
  void compress(std::string_view in, std::string& out);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  int level_;
};

// The body of a message as its records are in it: `body` itself when the message carries no
// logship-encoding header; its inflated form (in `buffer`) for logship-encoding: zstd. False with a
// one-line reason in `error` for another encoding, or a body that is not one complete zstd frame of
// at most wire::kMaxInflatedBytes.
bool inflatedBody(std::string_view body, std::span<const Header> headers, std::string& buffer, std::string_view& out,
                  std::string& error);

}  // namespace logship
