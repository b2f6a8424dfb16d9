#include "console/files.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>

#include "search/file_order.hpp"

namespace logship::console {
namespace {

// An aggregator's side files beside its output, which a glob like OUTPUT* also matches: never logs.
bool isSideFile(const std::string& path) {
  for (const char* suffix : {".ids", ".ids.tmp", ".offset", ".offset.tmp"}) {
    if (path.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> FileSet::current() const {
  std::vector<std::string> matched;
  for (const std::string& pattern : globs_) {
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st {};
        const std::string path = g.gl_pathv[i];
        if (!isSideFile(path) && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            std::find(matched.begin(), matched.end(), path) == matched.end()) {
          matched.push_back(path);
        }
      }
    }
    globfree(&g);
  }
  return search::orderFiles(matched, false).files;
}

std::optional<std::string> FileSet::find(const std::string& requested) const {
  const std::vector<std::string> files = current();
  if (std::find(files.begin(), files.end(), requested) == files.end()) return std::nullopt;
  return requested;
}

}  // namespace logship::console
