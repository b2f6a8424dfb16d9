#include "core/escape.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

using logship::escaped;

namespace {

// True when `s` is valid UTF-8 and holds no C0 control, DEL, C1, U+2028 or U+2029.
bool isSafeLine(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = logship::decodeUtf8(std::string_view(s).substr(i), cp);
    if (len == 0) return false;
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST(Escape, PlainAsciiIsUnchanged) {
  EXPECT_EQ(escaped("Log Entry 1: This is a sample log."), "Log Entry 1: This is a sample log.");
  EXPECT_EQ(escaped(""), "");
}

TEST(Escape, LineBreaksAndTabsUseShortEscapes) {
  EXPECT_EQ(escaped("a\nb"), "a\\nb");
  EXPECT_EQ(escaped("a\r\nb"), "a\\r\\nb");
  EXPECT_EQ(escaped("a\tb"), "a\\tb");
}

TEST(Escape, BackslashIsDoubledSoEscapesAreUnambiguous) {
  EXPECT_EQ(escaped("C:\\temp"), "C:\\\\temp");
  EXPECT_EQ(escaped("\\n"), "\\\\n");  // a literal backslash-n is not a newline escape
}

TEST(Escape, EveryC0ControlAndDelIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string in(1, static_cast<char>(c));
    const std::string out = escaped(in);
    if (c == '\n') {
      EXPECT_EQ(out, "\\n");
    } else if (c == '\r') {
      EXPECT_EQ(out, "\\r");
    } else if (c == '\t') {
      EXPECT_EQ(out, "\\t");
    } else {
      EXPECT_EQ(out, fmt::format("\\x{:02x}", c)) << "control " << c;
    }
  }
  EXPECT_EQ(escaped("\x7f"), "\\x7f");
  EXPECT_EQ(escaped("\x1b[31mred"), "\\x1b[31mred");
}

TEST(Escape, NulInsideMessageIsEscaped) { EXPECT_EQ(escaped(std::string("a\0b", 3)), "a\\x00b"); }

TEST(Escape, ValidUtf8IsKept) {
  EXPECT_EQ(escaped("café naïve Ærø"), "café naïve Ærø");
  EXPECT_EQ(escaped("日本語"), "日本語");
  EXPECT_EQ(escaped("grin \xF0\x9F\x98\x80 flag \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"),
            "grin \xF0\x9F\x98\x80 flag \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7");
  EXPECT_EQ(escaped("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF, the last code point
}

TEST(Escape, InvalidUtf8BytesAreHexEscaped) {
  EXPECT_EQ(escaped("\xff"), "\\xff");
  EXPECT_EQ(escaped("\xfe\xff"), "\\xfe\\xff");
  EXPECT_EQ(escaped("\x80"), "\\x80");                                      // lone continuation byte
  EXPECT_EQ(escaped("\xc3"), "\\xc3");                                      // truncated 2-byte sequence
  EXPECT_EQ(escaped("\xc3("), "\\xc3(");                                    // bad continuation
  EXPECT_EQ(escaped("\xe2\x82"), "\\xe2\\x82");                             // truncated 3-byte sequence
  EXPECT_EQ(escaped("\xc0\xaf"), "\\xc0\\xaf");                             // overlong '/'
  EXPECT_EQ(escaped("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");                    // overlong 3-byte
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\xed\\xa0\\x80");                    // UTF-16 surrogate U+D800
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");           // above U+10FFFF
  EXPECT_EQ(escaped("\xf8\x88\x80\x80\x80"), "\\xf8\\x88\\x80\\x80\\x80");  // 5-byte form
  EXPECT_EQ(escaped("ok\xffok\xc3\xa9"), "ok\\xffok\xc3\xa9");              // recovers after the bad byte
}

TEST(Escape, UnicodeLineBreaksC1AndBidiControlsAreEscaped) {
  EXPECT_EQ(escaped("a\xc2\x85"
                    "b"),
            "a\\u0085b");                     // NEL
  EXPECT_EQ(escaped("\xc2\x9b"), "\\u009b");  // C1 CSI
  EXPECT_EQ(escaped("a\xe2\x80\xa8"
                    "b"),
            "a\\u2028b");  // LINE SEPARATOR
  EXPECT_EQ(escaped("a\xe2\x80\xa9"
                    "b"),
            "a\\u2029b");  // PARAGRAPH SEPARATOR
  EXPECT_EQ(escaped("\xe2\x80\xae"
                    "abc"),
            "\\u202eabc");                        // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(escaped("\xe2\x81\xa6"), "\\u2066");  // LEFT-TO-RIGHT ISOLATE
  EXPECT_EQ(escaped("\xc2\xa0"), "\xc2\xa0");     // NBSP is printable: kept
}

TEST(Escape, InjectionAttemptStaysOnOneLine) {
  const std::string attack = "user login ok\n2026-01-01T00:00:00Z INFO  auth@host admin logged in\r";
  const std::string out = escaped(attack);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(out.find('\r'), std::string::npos);
}

TEST(Escape, EveryByteValueGivesASafeLine) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const std::string in{static_cast<char>(a), static_cast<char>(b), static_cast<char>(0xbf)};
      const std::string out = escaped(in);
      ASSERT_TRUE(isSafeLine(out)) << "input bytes " << a << "," << b;
    }
  }
}

// The plain runs are found 8 bytes at a time: every byte value at every offset of a word, and
// next to a 0xff (whose carry could hide a neighbour), must still be escaped exactly.
TEST(Escape, EverySpecialByteIsFoundAtEveryOffsetOfAWord) {
  const auto expected = [](unsigned char c) -> std::string {
    if (c == '\\') return "\\\\";
    if (c == '\n') return "\\n";
    if (c == '\r') return "\\r";
    if (c == '\t') return "\\t";
    if (c >= 0x20 && c < 0x7f) return std::string(1, static_cast<char>(c));
    return fmt::format("\\x{:02x}", c);  // controls, DEL, and a lone byte >= 0x80 (not UTF-8)
  };
  for (int c = 0; c < 256; ++c) {
    for (size_t pos = 0; pos < 21; ++pos) {
      std::string in(21, 'a');
      in[pos] = static_cast<char>(c);
      const std::string want = in.substr(0, pos) + expected(static_cast<unsigned char>(c)) + in.substr(pos + 1);
      ASSERT_EQ(escaped(in), want) << "byte " << c << " at " << pos;
      if (pos > 0 && c != 0xff) {  // a 0xff just before it, in the same word or the word before
        in[pos - 1] = static_cast<char>(0xff);
        const std::string want2 =
            in.substr(0, pos - 1) + "\\xff" + expected(static_cast<unsigned char>(c)) + in.substr(pos + 1);
        ASSERT_EQ(escaped(in), want2) << "byte " << c << " at " << pos << " after 0xff";
      }
    }
  }
}
