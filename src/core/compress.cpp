#include "core/compress.hpp"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <stdexcept>

#include "core/escape.hpp"

namespace logship {

std::optional<Compression> parseCompression(std::string_view text) {
  if (text == "none") return Compression{};
  if (text == "zstd") return Compression{1};
  if (!text.starts_with("zstd:")) return std::nullopt;
  const std::string_view digits = text.substr(5);
  int level = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), level);
  if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || level < 1 || level > 19) {
    return std::nullopt;
  }
  return Compression{level};
}

std::string formatCompression(const Compression& c) {
  return c.enabled() ? fmt::format("zstd:{}", c.zstdLevel) : std::string("none");
}

struct BodyCompressor::Context {
  struct Free {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  std::unique_ptr<ZSTD_CCtx, Free> cctx{ZSTD_createCCtx()};
};

BodyCompressor::BodyCompressor(int level) : ctx_(std::make_unique<Context>()), level_(level) {
  if (!ctx_->cctx) throw std::bad_alloc();
}
BodyCompressor::~BodyCompressor() = default;
BodyCompressor::BodyCompressor(BodyCompressor&&) noexcept = default;
BodyCompressor& BodyCompressor::operator=(BodyCompressor&&) noexcept = default;

void BodyCompressor::compress(std::string_view in, std::string& out) {
  out.resize(ZSTD_compressBound(in.size()));
  // ZSTD_compressCCtx writes the content size into the frame header: readers check it first.
  const size_t n = ZSTD_compressCCtx(ctx_->cctx.get(), out.data(), out.size(), in.data(), in.size(), level_);
  if (ZSTD_isError(n)) throw std::runtime_error(fmt::format("zstd compression failed: {}", ZSTD_getErrorName(n)));
  out.resize(n);
}

namespace {

bool inflateZstd(std::string_view body, std::string& buffer, std::string& error) {
  const unsigned long long declared = ZSTD_getFrameContentSize(body.data(), body.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    error = fmt::format("{} body of {} bytes is not a zstd frame", wire::kZstd, body.size());
    return false;
  }
  const bool known = declared != ZSTD_CONTENTSIZE_UNKNOWN;
  if (known && declared > wire::kMaxInflatedBytes) {
    error = fmt::format("zstd body declares {} bytes, over the limit of {}", declared, wire::kMaxInflatedBytes);
    return false;
  }
  const size_t frame = ZSTD_findFrameCompressedSize(body.data(), body.size());
  if (ZSTD_isError(frame)) {
    error = fmt::format("zstd body of {} bytes is truncated or corrupt: {}", body.size(), ZSTD_getErrorName(frame));
    return false;
  }
  if (frame != body.size()) {
    error = fmt::format("zstd body holds {} bytes after its frame", body.size() - frame);
    return false;
  }
  // Streamed into a buffer that grows as bytes come out, never past the limit (or the declared size,
  // when the frame has one): a small body claiming much takes memory only for what it really holds.
  const size_t cap = known ? static_cast<size_t>(declared) : wire::kMaxInflatedBytes;
  // One decompression context per thread, reused (creating one per message would allocate ~100 KB
  // for every batch an aggregator reads).
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!dctx) throw std::bad_alloc();
  ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_only);  // a frame left half-read last time is forgotten
  buffer.clear();
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  size_t ret = 1;
  while (ret != 0 && buffer.size() <= cap) {
    const size_t at = buffer.size();
    buffer.resize(at + std::min<size_t>(ZSTD_DStreamOutSize(), cap - at + 1));
    ZSTD_outBuffer out{buffer.data() + at, buffer.size() - at, 0};
    ret = ZSTD_decompressStream(dctx.get(), &out, &in);
    buffer.resize(at + out.pos);
    if (ZSTD_isError(ret)) {
      error = fmt::format("zstd body of {} bytes is corrupt: {}", body.size(), ZSTD_getErrorName(ret));
      return false;
    }
    if (ret != 0 && in.pos == in.size && out.pos == 0) break;  // wants input there is not
  }
  if (buffer.size() > cap) {
    error = known ? fmt::format("zstd body of {} bytes is corrupt: it inflates to more than the {} it declares",
                                body.size(), declared)
                  : fmt::format("zstd body inflates to more than the limit of {}", wire::kMaxInflatedBytes);
    return false;
  }
  if (ret != 0 || (known && buffer.size() != declared)) {
    error = fmt::format("zstd body of {} bytes is truncated or corrupt: it inflates to {} bytes{}", body.size(),
                        buffer.size(), known ? fmt::format(", not the {} it declares", declared) : "");
    return false;
  }
  return true;
}

}  // namespace

bool inflatedBody(std::string_view body, std::span<const Header> headers, std::string& buffer, std::string_view& out,
                  std::string& error) {
  out = body;
  const Header* encoding = nullptr;
  for (const auto& h : headers) {
    if (h.key == wire::kEncoding) encoding = &h;
  }
  if (encoding == nullptr) return true;
  if (!encoding->isString || encoding->value != wire::kZstd) {
    error = fmt::format("unsupported {} '{}' (this version reads zstd)", wire::kEncoding, escaped(encoding->value));
    return false;
  }
  if (!inflateZstd(body, buffer, error)) return false;
  out = buffer;
  return true;
}

}  // namespace logship
