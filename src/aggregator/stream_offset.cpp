#include "aggregator/stream_offset.hpp"

#include <fcntl.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/io.hpp"
#include "core/timestamp.hpp"

namespace logship {
namespace {

constexpr std::string_view kMagic = "logship-stream-offset 1\n";

// The offset in "next N\n" at the end of `rest`, nullopt if `rest` is anything else.
std::optional<int64_t> parseNext(std::string_view rest) {
  constexpr std::string_view kKey = "next ";
  if (!rest.starts_with(kKey) || !rest.ends_with('\n')) return std::nullopt;
  const std::string_view digits = rest.substr(kKey.size(), rest.size() - kKey.size() - 1);
  int64_t n = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0 || digits.empty() ||
      (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

std::optional<StreamStart> parseStreamStart(std::string_view text) {
  using Kind = StreamStart::Kind;
  if (text == "first") return StreamStart{Kind::First, 0};
  if (text == "last") return StreamStart{Kind::Last, 0};
  if (text == "next") return StreamStart{Kind::Next, 0};
  int64_t n = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && n >= 0) {
    return StreamStart{Kind::Offset, n};
  }
  const std::optional<int64_t> micros = parseTimestamp(text);
  if (!micros || *micros < 0) return std::nullopt;
  return StreamStart{Kind::Timestamp, *micros / 1'000'000};
}

std::string StreamOffsetFile::format(const std::string& queue, int64_t next) {
  return fmt::format("{}queue {}\nnext {}\n", kMagic, escaped(queue), next);
}

StreamOffsetFile::StreamOffsetFile(std::string path, std::string queue, mode_t mode, bool sync)
    : path_(std::move(path)), queue_(std::move(queue)), mode_(mode), sync_(sync) {
  removeLeftoverTemps(path_);  // of a save a crash interrupted (we hold the output's lock)
  const UniqueFd fd = openFile(path_, O_RDONLY);
  if (!fd.valid() && errno == ENOENT) return;
  const std::string fix(
      "it holds this aggregator's place in the stream; if the output is complete up to a known point, remove it "
      "and start with --stream-from (first: the whole stream again; an offset; a time)");
  std::string text;
  if (!fd.valid() || !readAll(fd.get(), text)) {
    throw Error(fmt::format("{}; {}", errnoMessage("cannot read the stream offset file", path_, errno), fix));
  }
  const std::string queueLine = fmt::format("queue {}\n", escaped(queue_));
  if (!text.starts_with(kMagic)) {
    throw Error(fmt::format("{} is not a stream offset file (damaged?); {}", escaped(path_), fix));
  }
  std::string_view rest = std::string_view(text).substr(kMagic.size());
  const size_t eol = rest.find('\n');
  if (!rest.starts_with("queue ") || eol == std::string_view::npos) {
    throw Error(fmt::format("{} holds no queue line (damaged?); {}", escaped(path_), fix));
  }
  if (!rest.starts_with(queueLine)) {
    throw Error(
        fmt::format("{} is the place of another stream ({}), not of '{}': give this aggregator another "
                    "--output, or the --queue it was reading",
                    escaped(path_), escaped(rest.substr(0, eol)), escaped(queue_)));
  }
  next_ = parseNext(rest.substr(queueLine.size()));
  if (!next_) throw Error(fmt::format("{} holds no valid offset (damaged?); {}", escaped(path_), fix));
}

void StreamOffsetFile::save(int64_t next) {
  if (next_ == next) return;
  replaceFile(path_, format(queue_, next), mode_, sync_);
  next_ = next;
}

}  // namespace logship
