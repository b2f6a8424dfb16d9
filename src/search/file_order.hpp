#pragma once
// The order logctl search reads its files in. A shell glob such as `aggregated_logs.txt*` lists an
// output before its rotated files, and sorts names by the locale's collation: the files of one
// output are put in time order here instead.
#include <string>
#include <vector>

namespace logship::search {

struct OrderedFiles {
  std::vector<std::string> files;  // to scan, in this order
  // Given, and skipped without a word: the duplicate journal OUTPUT.ids (and its temporary
  // OUTPUT.ids.tmp) of an OUTPUT given too, and an uncompressed rotated file given together with
  // its compressed copy (the compression finished between the glob and now).
  std::vector<std::string> skipped;
};

// The rotated files of an output (OUTPUT.<UTC time>Z[_NNNN][.zst], core/rotated_name.hpp) and the
// output itself, when given, are read oldest first and the output last, at the place of the first
// of them in the arguments. Other files keep their order. "-" is standard input, never moved.
// With `keepJournals` (an explicit --format), journals are not skipped.
OrderedFiles orderFiles(const std::vector<std::string>& files, bool keepJournals);

// `path`, or its .zst when `path` is an uncompressed rotated file that is gone while its .zst is
// there (its aggregator compressed it since the file list was made).
std::string compressedMeanwhile(const std::string& path);

}  // namespace logship::search
