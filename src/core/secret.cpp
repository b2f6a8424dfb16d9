#include "core/secret.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"

namespace logship {

std::string readPasswordFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(fmt::format("cannot read password file {}: {}", path, std::strerror(errno)));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.empty()) throw UsageError(fmt::format("password file {} is empty", path));
  return line;
}

namespace {

// Where the password of the URL whose "://" is at `scheme` starts and ends in `text` (an empty
// range when it has none).
std::pair<size_t, size_t> urlPassword(std::string_view text, size_t scheme) {
  const size_t start = scheme + 3;
  const size_t end = std::min(text.find_first_of(" \t\r\n,\"'`", start), text.size());
  const size_t at = text.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return {start, start};
  const size_t colon = text.substr(start, at).find(':');
  if (colon == std::string_view::npos) return {start, start};
  return {start + colon + 1, start + at};
}

}  // namespace

std::string redactUrlPasswords(std::string_view text) {
  std::string out;
  size_t copied = 0;
  for (size_t scheme = text.find("://"); scheme != std::string_view::npos; scheme = text.find("://", scheme + 3)) {
    const auto [from, to] = urlPassword(text, scheme);
    if (from == to) continue;
    out.append(text.substr(copied, from - copied));
    out += "***";
    copied = to;
    scheme = to - 3;  // go on after the password
  }
  out.append(text.substr(copied));
  return out;
}

bool holdsUrlPassword(std::string_view text) { return redactUrlPasswords(text) != text; }

}  // namespace logship
