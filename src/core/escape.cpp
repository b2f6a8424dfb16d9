#include "core/escape.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace logship {
namespace {

constexpr std::array<char, 16> kHex{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

// kPipe: the text format's message, where '|' also leaves the fast path (appendEscapedMessage).
template <bool kPipe>
bool isPlain(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '\\' && (!kPipe || c != '|');
}

// The high bit of each byte of `w` that is zero (and maybe of the byte after a zero byte).
uint64_t zeroBytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  return (w - kOnes) & ~w;
}

// Whether the 8 bytes of `w` may hold a byte that is not plain: a control (< 0x20), DEL or
// above (>= 0x7f), or a backslash (or, with kPipe, a '|'). Never false when one does; it may be
// true when none does (the byte after a 0xff), which only sends the caller to the byte-by-byte check.
template <bool kPipe>
bool mayHoldSpecial(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t control = (w - kOnes * 0x20) & ~w;  // high bit of bytes < 0x20
  const uint64_t high = w | (w + kOnes);             // high bit of bytes >= 0x7f
  // '\\' (0x5c) and '|' (0x7c) differ only in bit 0x20: with it set, one compare finds both.
  const uint64_t folded = kPipe ? (w | (kOnes * 0x20)) ^ (kOnes * static_cast<unsigned char>('|'))
                                : w ^ (kOnes * static_cast<unsigned char>('\\'));
  return ((control | high | zeroBytes(folded)) & kHigh) != 0;
}

// The end of the run of plain bytes of `in` that starts at `i`.
template <bool kPipe>
size_t plainRunEnd(std::string_view in, size_t i) {
  const size_t n = in.size();
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, in.data() + i, 8);
    if (mayHoldSpecial<kPipe>(w)) break;
    i += 8;
  }
  while (i < n && isPlain<kPipe>(static_cast<unsigned char>(in[i]))) ++i;
  return i;
}

void appendHexByte(std::string& out, unsigned char c) {
  const char buf[4] = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
  out.append(buf, 4);
}

bool mustEscapeCodePoint(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

void appendUnicodeEscape(std::string& out, char32_t cp) {
  const char buf[6] = {'\\', 'u', kHex[(cp >> 12) & 0xf], kHex[(cp >> 8) & 0xf], kHex[(cp >> 4) & 0xf], kHex[cp & 0xf]};
  out.append(buf, 6);
}

}  // namespace

size_t decodeUtf8(std::string_view in, char32_t& codePoint) {
  if (in.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(in[0]);
  size_t len;
  char32_t cp;
  char32_t min;
  if (b0 < 0x80) {
    codePoint = b0;
    return 1;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (in.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(in[i]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  codePoint = cp;
  return len;
}

namespace {

// An ASCII byte that is not plain: '\\', a control, DEL (or, with kPipe, a '|').
template <bool kPipe>
void appendEscapedAscii(std::string& out, std::string_view in, size_t i) {
  const auto c = static_cast<unsigned char>(in[i]);
  switch (c) {
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '|':  // only with kPipe: a '|' that starts the message or follows a space could start " | "
      if (i == 0 || in[i - 1] == ' ') {
        appendHexByte(out, c);
      } else {
        out += '|';
      }
      break;
    default: appendHexByte(out, c); break;  // other C0 controls and DEL
  }
}

template <bool kPipe>
void appendEscapedImpl(std::string& out, std::string_view in) {
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    // Copy the longest run of printable ASCII in one append: the common case.
    const size_t run = plainRunEnd<kPipe>(in, i);
    if (run > i) {
      out.append(in.data() + i, run - i);
      i = run;
      if (i == n) break;
    }
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      appendEscapedAscii<kPipe>(out, in, i);
      ++i;
      continue;
    }
    char32_t cp = 0;
    const size_t len = decodeUtf8(in.substr(i), cp);
    if (len == 0) {
      appendHexByte(out, c);
      ++i;
    } else if (mustEscapeCodePoint(cp)) {
      appendUnicodeEscape(out, cp);
      i += len;
    } else {
      out.append(in.data() + i, len);
      i += len;
    }
  }
}

}  // namespace

void appendEscaped(std::string& out, std::string_view in) { appendEscapedImpl<false>(out, in); }

void appendEscapedMessage(std::string& out, std::string_view in) { appendEscapedImpl<true>(out, in); }

void appendEscapedHexing(std::string& out, std::string_view in, std::string_view separators,
                         bool (*hexHere)(std::string_view in, size_t pos)) {
  size_t start = 0;
  for (size_t pos = in.find_first_of(separators); pos != std::string_view::npos;
       pos = in.find_first_of(separators, pos + 1)) {
    if (hexHere != nullptr && !hexHere(in, pos)) continue;
    appendEscaped(out, in.substr(start, pos - start));
    appendHexByte(out, static_cast<unsigned char>(in[pos]));
    start = pos + 1;
  }
  appendEscaped(out, in.substr(start));
}

void appendJsonSafe(std::string& out, std::string_view json) {
  size_t i = 0;
  while (i < json.size()) {
    const auto c = static_cast<unsigned char>(json[i]);
    if (c < 0x7f) {
      out += json[i++];
      continue;
    }
    char32_t cp = c;
    const size_t len = c == 0x7f ? 1 : decodeUtf8(json.substr(i), cp);
    if (len == 0) {  // never produced by a JSON serializer; keep the output valid UTF-8 anyway
      appendUnicodeEscape(out, 0xfffd);
      ++i;
    } else if (cp == 0x7f || mustEscapeCodePoint(cp)) {
      appendUnicodeEscape(out, cp);
      i += len;
    } else {
      out.append(json.data() + i, len);
      i += len;
    }
  }
}

int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {

// Value of the `n` hex digits at the start of `in`, or -1.
int64_t hexNumber(std::string_view in, size_t n) {
  if (in.size() < n) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const int h = hexDigitValue(in[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}
}  // namespace

void appendUnescaped(std::string& out, std::string_view in) {
  size_t i = 0;
  while (i < in.size()) {
    const size_t slash = in.find('\\', i);
    if (slash == std::string_view::npos) {
      out.append(in.data() + i, in.size() - i);
      return;
    }
    out.append(in.data() + i, slash - i);
    i = slash;
    const std::string_view rest = in.substr(i + 1);
    const char kind = rest.empty() ? '\0' : rest[0];
    int64_t v = -1;
    switch (kind) {
      case '\\':
        out += '\\';
        i += 2;
        continue;
      case 'n':
        out += '\n';
        i += 2;
        continue;
      case 'r':
        out += '\r';
        i += 2;
        continue;
      case 't':
        out += '\t';
        i += 2;
        continue;
      case 'x':
        if ((v = hexNumber(rest.substr(1), 2)) >= 0) {
          out += static_cast<char>(v);
          i += 4;
          continue;
        }
        break;
      case 'u':
        if ((v = hexNumber(rest.substr(1), 4)) >= 0) {
          appendUtf8(out, static_cast<char32_t>(v));
          i += 6;
          continue;
        }
        break;
      default: break;
    }
    out += '\\';  // not an escape appendEscaped writes: keep it
    ++i;
  }
}

std::string escaped(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  appendEscaped(out, in);
  return out;
}

}  // namespace logship
