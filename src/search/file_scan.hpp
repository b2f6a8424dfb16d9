#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/output_format.hpp"
#include "search/scanner.hpp"

namespace logship::search {

// A file that cannot be read (missing, unreadable, a directory, corrupt or truncated zstd data):
// what() is one line naming the file.
class FileError : public Error {
 public:
  using Error::Error;
};

enum class Compression { None, Zstd };

struct FileReport {
  std::string path;                          // as given ("-" for standard input)
  OutputFormat format = OutputFormat::Text;  // the format its lines were read in
  bool formatDetected = false;               // false when --format gave it
  Compression compression = Compression::None;
  uint64_t bytesRead = 0;     // bytes read from the file so far (compressed bytes for zstd)
  uint64_t bytesScanned = 0;  // bytes of lines scanned so far (decompressed)
  uint64_t fileBytes = 0;     // size of the file when opened (0 for a pipe)
  ScanCounts counts;
  // The file is in raw format (message only) but the query has conditions on the timestamp,
  // level or service: none of its lines can match, so it was not scanned.
  bool lacksRecordParts = false;
};

struct ScanOptions {
  std::optional<OutputFormat> format;               // nullopt: detect per file (detectFormat)
  size_t chunkBytes = 8u << 20;                     // unit of reading, decompressing and progress reports
  std::function<void(const FileReport&)> progress;  // after every chunk (may be empty)
};

// Announces each file to the sink before its matches: the sink must know the format to convert
// lines (logctl search --json).
class FileMatchSink : public MatchSink {
 public:
  virtual void beginFile(const FileReport& report) = 0;
  // Before the lines of `bytes` are scanned: `offset` is where `bytes` starts in the file's lines
  // (decompressed, for zstd), so a line's byte offset is offset + (line.data() - bytes.data()).
  virtual void beginChunk(std::string_view /*bytes*/, uint64_t /*offset*/) {}
};

// The format of an output file, judged from its first lines (`head`): json if most of up to 32
// non-empty lines parse as json, else text if most parse as text, else raw.
OutputFormat detectFormat(std::string_view head);

// Scans one file: a plain file (mapped into memory, scanned in place), a zstd-compressed one
// (recognised by its magic number, whatever its name; decompressed as a stream), or "-" for
// standard input (either). Matches go to `sink` as they are found. Throws FileError; matches
// delivered before the error stand.
FileReport scanFile(const std::string& path, const Query& query, const Pattern* pattern, const ScanOptions& options,
                    FileMatchSink& sink);

}  // namespace logship::search
