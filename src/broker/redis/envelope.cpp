#include "broker/redis/envelope.hpp"

#include <fmt/format.h>

#include "core/escape.hpp"

namespace logship::redis {
namespace {

constexpr std::string_view kLogshipPrefix = "logship-";
constexpr char kHex[] = "0123456789ABCDEF";

bool needsEncoding(unsigned char c, bool key) {
  return c <= 0x20 || c == 0x7f || c == '%' || (key && (c == '=' || c == '+'));
}

void appendEncoded(std::string& out, std::string_view text, bool key) {
  for (unsigned char c : text) {
    if (needsEncoding(c, key)) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool appendDecoded(std::string& out, std::string_view text, std::string& error) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) {
      error = "malformed Redis envelope: truncated %-escape";
      return false;
    }
    const int h = hexValue(text[i + 1]);
    const int l = hexValue(text[i + 2]);
    if (h < 0 || l < 0) {
      error = fmt::format("malformed Redis envelope: bad %-escape '%{}'", escaped(text.substr(i + 1, 2)));
      return false;
    }
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return true;
}

}  // namespace

void encodeEnvelope(const Message& message, std::string& out) {
  out.clear();
  if (message.headers.empty() && !message.body.starts_with(kEnvelopeMagic)) {
    out = message.body;
    return;
  }
  out.reserve(message.body.size() + 16 + message.headers.size() * 24);
  out += kEnvelopeMagic;
  out += kEnvelopeVersion;
  appendHeaderItems(out, message.headers);
  out += '\n';
  out += message.body;
}

void appendHeaderItems(std::string& out, const std::vector<Header>& headers) {
  for (const Header& h : headers) {
    out += ' ';
    std::string_view key = h.key;
    if (key.starts_with(kLogshipPrefix) && key.size() > kLogshipPrefix.size()) {
      key.remove_prefix(kLogshipPrefix.size());
    } else {
      out += '+';
    }
    appendEncoded(out, key, true);
    out += '=';
    appendEncoded(out, h.value, false);
  }
}

bool decodeEnvelope(std::string_view value, std::string& body, std::vector<Header>& headers, std::string& error) {
  headers.clear();
  if (!value.starts_with(kEnvelopeMagic)) {
    body.assign(value);
    return true;
  }
  const size_t end = value.find('\n');
  if (end == std::string_view::npos) {
    error = "malformed Redis envelope: no line feed after the header line";
    return false;
  }
  std::string_view line = value.substr(kEnvelopeMagic.size(), end - kEnvelopeMagic.size());
  const size_t versionEnd = line.find(' ');
  const std::string_view version = line.substr(0, versionEnd);
  if (version != kEnvelopeVersion) {
    error = fmt::format("unsupported Redis envelope version '{}' (this aggregator reads version {})",
                        escaped(version.substr(0, 16)), kEnvelopeVersion);
    return false;
  }
  line = versionEnd == std::string_view::npos ? std::string_view{} : line.substr(versionEnd + 1);
  while (!line.empty()) {
    const size_t sp = line.find(' ');
    const std::string_view item = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      error = fmt::format("malformed Redis envelope: header item '{}' is not KEY=VALUE", escaped(item.substr(0, 64)));
      return false;
    }
    std::string_view key = item.substr(0, eq);
    Header& h = headers.emplace_back();
    if (key.starts_with('+')) {
      key.remove_prefix(1);
    } else {
      h.key = kLogshipPrefix;
    }
    if (!appendDecoded(h.key, key, error) || !appendDecoded(h.value, item.substr(eq + 1), error)) return false;
  }
  body.assign(value.substr(end + 1));
  return true;
}

}  // namespace logship::redis
