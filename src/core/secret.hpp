#pragma once
#include <string>

namespace logship {

// Reads a password from a file (first line, trailing CR/LF removed). Throws UsageError naming the
// file, never the content.
std::string readPasswordFile(const std::string& path);

}  // namespace logship
