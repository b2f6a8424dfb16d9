#include "core/rotated_name.hpp"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace logship {
namespace {

constexpr std::string_view kZst = ".zst";
constexpr std::string_view kTmp = ".tmp";
// "YYYYMMDDTHHMMSSZ"
constexpr size_t kStampWidth = 16;

std::string stamp(int64_t unixSeconds) {
  const auto t = static_cast<time_t>(unixSeconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

bool digits(std::string_view s, size_t from, size_t n, int& out) {
  out = 0;
  for (size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::optional<int64_t> parseStamp(std::string_view s) {
  if (s.size() != kStampWidth || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!digits(s, 0, 4, year) || !digits(s, 4, 2, mon) || !digits(s, 6, 2, day) || !digits(s, 9, 2, hour) ||
      !digits(s, 11, 2, min) || !digits(s, 13, 2, sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) return std::nullopt;
  struct tm tm {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const int64_t t = timegm(&tm);
  // timegm normalises 31 February into March: only a name we could have written counts.
  if (stamp(t) != s) return std::nullopt;
  return t;
}

}  // namespace

std::string rotatedFileName(std::string_view outputName, const RotatedName& name) {
  std::string s = fmt::format("{}.{}", outputName, stamp(name.unixSeconds));
  // Zero-padded, so that names sort in time order as plain strings (ls, shell globs in the C locale).
  if (name.counter > 0) s += fmt::format("_{:04}", name.counter);
  if (name.compressed) s += kZst;
  return s;
}

std::optional<RotatedName> parseRotatedName(std::string_view outputName, std::string_view fileName) {
  if (fileName.size() < outputName.size() + 1 + kStampWidth || !fileName.starts_with(outputName) ||
      fileName[outputName.size()] != '.') {
    return std::nullopt;
  }
  std::string_view rest = fileName.substr(outputName.size() + 1);
  RotatedName n;
  const auto t = parseStamp(rest.substr(0, kStampWidth));
  if (!t) return std::nullopt;
  n.unixSeconds = *t;
  rest.remove_prefix(kStampWidth);
  if (rest.ends_with(kZst)) {
    n.compressed = true;
    rest.remove_suffix(kZst.size());
  }
  if (!rest.empty()) {
    // "_NNNN": N from 1, at least 4 digits (the name we write for it).
    if (rest.size() < 5 || rest.front() != '_') return std::nullopt;
    const auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), n.counter);
    if (ec != std::errc() || end != rest.data() + rest.size() || n.counter == 0 ||
        fmt::format("_{:04}", n.counter) != rest) {
      return std::nullopt;
    }
  }
  return n;
}

std::string compressionTempName(std::string_view outputName, const RotatedName& name) {
  RotatedName z = name;
  z.compressed = true;
  return fmt::format(".{}{}", rotatedFileName(outputName, z), kTmp);
}

std::optional<RotatedName> parseCompressionTempName(std::string_view outputName, std::string_view fileName) {
  if (!fileName.starts_with('.') || !fileName.ends_with(kTmp)) return std::nullopt;
  auto n = parseRotatedName(outputName, fileName.substr(1, fileName.size() - 1 - kTmp.size()));
  if (!n || !n->compressed) return std::nullopt;
  return n;
}

std::optional<std::pair<std::string, RotatedName>> splitRotatedName(std::string_view fileName) {
  // NAME "." STAMP: the stamp starts after the last '.' that leaves room for it.
  std::string_view rest = fileName;
  if (rest.ends_with(kZst)) rest.remove_suffix(kZst.size());
  const size_t underscore = rest.rfind('_');
  if (underscore != std::string_view::npos && underscore + 1 < rest.size() &&
      rest.find_first_not_of("0123456789", underscore + 1) == std::string_view::npos) {
    rest = rest.substr(0, underscore);
  }
  if (rest.size() < kStampWidth + 2 || rest[rest.size() - kStampWidth - 1] != '.') return std::nullopt;
  std::string output(rest.substr(0, rest.size() - kStampWidth - 1));
  auto n = parseRotatedName(output, fileName);
  if (!n) return std::nullopt;
  return std::pair{std::move(output), *n};
}

}  // namespace logship
