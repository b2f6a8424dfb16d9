#pragma once
#include <string>
#include <string_view>

namespace logship {

// Reads a password from a file (first line, trailing CR/LF removed). Throws UsageError naming the
// file, never the content.
std::string readPasswordFile(const std::string& path);

// `text` (an error message, which may quote command-line arguments or a configuration file) with
// the password of every URL in it replaced by "***": in each SCHEME://USERINFO@... the part of
// USERINFO after its first ':' (USERINFO ends at the last '@' before a space, quote or comma).
std::string redactUrlPasswords(std::string_view text);

// Whether `text` holds a URL with a password (what redactUrlPasswords would hide).
bool holdsUrlPassword(std::string_view text);

}  // namespace logship
