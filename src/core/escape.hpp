#pragma once
#include <string>
#include <string_view>

namespace logship {

// Appends `in` to `out` so that the result is valid UTF-8 holding no line break and no control
// character: one record can never become two lines (log-injection defence). Rules (docs/FORMATS.md):
//   backslash            -> \\          (so every escape is unambiguous)
//   LF, CR, TAB          -> \n \r \t
//   other C0, DEL        -> \xHH
//   invalid UTF-8 byte   -> \xHH        (each byte of an overlong, surrogate, truncated or >U+10FFFF sequence)
//   C1 controls U+0080-U+009F, U+2028, U+2029, bidi controls U+202A-U+202E, U+2066-U+2069 -> \uXXXX
// Everything else, including valid multi-byte UTF-8 (accents, CJK, emoji), is copied as is.
void appendEscaped(std::string& out, std::string_view in);
std::string escaped(std::string_view in);

// appendEscaped for the text format's message: also writes a '|' that starts `in` or follows a
// space as \x7c, so that the message never holds the " | " that starts the line's fields.
void appendEscapedMessage(std::string& out, std::string_view in);

// appendEscaped that also writes each byte of `separators` (ASCII bytes, which appendEscaped copies
// as they are) as \xHH: all of them, or with `hexHere` only those where hexHere(in, position) is
// true. The text format's names and fields escape the separators around them this way.
void appendEscapedHexing(std::string& out, std::string_view in, std::string_view separators,
                         bool (*hexHere)(std::string_view in, size_t pos) = nullptr);

// The value of a hexadecimal digit (either case), -1 for any other character.
int hexDigitValue(char c);

// The inverse of appendEscaped: appends the original bytes of escaped text (\\ \n \r \t \xHH
// \uXXXX). A backslash that starts no valid escape is copied as it is (text written by
// appendEscaped never holds one).
void appendUnescaped(std::string& out, std::string_view in);

// Appends JSON text `json` (already valid UTF-8 with C0 controls escaped, as nlohmann::json dumps
// it) with DEL, C1 controls, U+2028, U+2029 and bidi controls turned into \uXXXX escapes, so JSON
// lines follow the same rules as the text formats. JSON structure is ASCII: only strings change.
void appendJsonSafe(std::string& out, std::string_view json);

// Length of the valid UTF-8 sequence at the start of `in`, or 0 if it is not valid
// (shortest form, no surrogates, at most U+10FFFF). Sets `codePoint`.
size_t decodeUtf8(std::string_view in, char32_t& codePoint);

}  // namespace logship
