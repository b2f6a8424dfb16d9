#pragma once
// The files the console may read: what the --files globs match now (rotated and zstd files
// appear and go while it runs), in logctl search's order. A file name a client sends is served
// only when it is, byte for byte, one of these: no path is ever built from a request.
#include <optional>
#include <string>
#include <vector>

namespace logship::console {

class FileSet {
 public:
  explicit FileSet(std::vector<std::string> globs) : globs_(std::move(globs)) {}
  const std::vector<std::string>& globs() const { return globs_; }
  // The regular files matched now, oldest output file first (search::orderFiles); an aggregator's
  // side files (OUTPUT.ids duplicate journal, OUTPUT.offset stream place) left out.
  std::vector<std::string> current() const;
  // `requested` if it is one of current(), else nullopt.
  std::optional<std::string> find(const std::string& requested) const;

 private:
  std::vector<std::string> globs_;
};

}  // namespace logship::console
