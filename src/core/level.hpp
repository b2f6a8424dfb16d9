#pragma once
#include <optional>
#include <string_view>

#include <logship/level.hpp>  // enum class Level: one definition, shared with the client library's API

namespace logship {

// Accepts the usual spellings case-insensitively: trace, debug, info, warn/warning, error/err,
// fatal/critical/crit.
std::optional<Level> parseLevel(std::string_view text);
// Canonical lower-case name, as carried on the wire and in JSON output ("info").
std::string_view levelName(Level level);
// Upper-case label padded to five columns, for the text format ("INFO ").
std::string_view levelLabel(Level level);

}  // namespace logship
