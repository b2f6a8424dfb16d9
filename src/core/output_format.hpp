#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/record.hpp"

namespace logship {

enum class OutputFormat {
  Text,  // 2026-11-24T08:25:07.123456Z INFO  service@host message | key=value ...
  Raw,   // the message text only, as the tutorial's consumer writes it (escaped)
  Json,  // one JSON object per line
};

std::optional<OutputFormat> parseOutputFormat(std::string_view name);
std::string_view outputFormatName(OutputFormat format);

// Appends exactly one line (ending in '\n') for `record`. Whatever bytes the record holds, the
// appended text contains no other '\n' or '\r' and is valid UTF-8 (core/escape.hpp).
void appendFormatted(std::string& out, OutputFormat format, const Record& record);

}  // namespace logship
