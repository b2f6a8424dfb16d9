#pragma once
// Searching the --files for the console (the engine of `logctl search`, src/search/): one pass
// gives the page of records, the total, the histogram and the facets; the same pass streams an
// export; context reads the lines around one offset. Every string goes out JSON-escaped (the
// page shows records as text).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "console/files.hpp"
#include "console/params.hpp"
#include "core/record.hpp"
#include "search/pattern.hpp"

namespace logship::console {

using Json = nlohmann::ordered_json;

// REC of docs/CONSOLE.md without file, offset and match.
Json recordJson(const Record& r);

// GET /api/search: {"records", "next_cursor", "total", "histogram", "facets"}.
Json searchFiles(const FileSet& files, const search::Query& query, const Page& page);

// GET /api/context: the `before` records before the line at `offset` of `file`, that line and
// `after` records after it. Throws ApiError 404 when `offset` starts no line.
Json contextOf(const std::string& file, uint64_t offset, uint64_t before, uint64_t after);

enum class ExportFormat { Ndjson, Csv };
// GET /api/export: every matching record, oldest first, in `format`, handed to `write` in pieces
// (returning false stops: the client went away).
void exportFiles(const FileSet& files, const search::Query& query, ExportFormat format,
                 const std::function<bool(std::string_view)>& write);

// One CSV field (RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled).
void appendCsvField(std::string& out, std::string_view value);

// The query's q compiled, or null when there is none. Throws ApiError 400 when q is no valid ERE.
std::unique_ptr<search::Pattern> compilePattern(const search::Query& query);

// Byte ranges [start, end) of the matches of the ERE `q` in `text` (for highlighting). Empty for "".
std::vector<std::pair<size_t, size_t>> matchRanges(const std::string& q, std::string_view text);

}  // namespace logship::console
