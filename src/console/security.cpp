#include "console/security.hpp"

#include <arpa/inet.h>

#include <fstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"

namespace logship::console {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool tokensEqual(std::string_view a, std::string_view b) {
  // Every byte of the longer is looked at, whatever matched before: the time says only the lengths.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  // Through a volatile: the compiler may not end the loop early on a difference.
  volatile unsigned char result = diff;
  return result == 0;
}

std::string readTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(fmt::format("--token-file {}: cannot be read", escaped(path)));
  std::string line;
  std::getline(in, line);
  const std::string token(trim(line));
  if (token.empty()) throw UsageError(fmt::format("--token-file {}: holds no token on its first line", escaped(path)));
  for (unsigned char c : token) {
    if (c < 0x21 || c == 0x7f || c == ';' || c == ',' || c == '"' || c == '\\') {
      throw UsageError(
          fmt::format("--token-file {}: the token may hold only printable characters other than ; , \" and \\ (it goes "
                      "in a cookie)",
                      escaped(path)));
    }
  }
  return token;
}

std::optional<std::string> cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t end = std::min(header.find(';'), header.size());
    const std::string_view pair = trim(header.substr(0, end));
    header.remove_prefix(std::min(end + 1, header.size()));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) return std::string(trim(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

std::optional<std::string> requestToken(std::string_view authorization, std::string_view cookie) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.starts_with(kBearer)) return std::string(trim(authorization.substr(kBearer.size())));
  return cookieValue(cookie, kTokenCookie);
}

bool isLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string_view hostOfHostHeader(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? std::string_view() : host.substr(1, close - 1);
  }
  return host.substr(0, host.find(':'));
}

bool sameOrigin(std::string_view origin, std::string_view host) {
  if (host.empty()) return false;
  for (std::string_view scheme : {"http://", "https://"}) {  // https: behind a TLS reverse proxy
    if (origin.starts_with(scheme)) return origin.substr(scheme.size()) == host;
  }
  return false;
}

std::string randomToken() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[16] = {};
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof bytes)) throw Error("cannot read /dev/urandom");
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace logship::console
