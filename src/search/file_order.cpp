#include "search/file_order.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "core/rotated_name.hpp"

namespace logship::search {
namespace {

namespace fs = std::filesystem;

struct Member {
  size_t index;                     // in the arguments
  std::optional<RotatedName> name;  // nullopt: the output itself (read last)
};

std::string outputOfJournal(const std::string& path) {
  for (std::string_view suffix : {".ids", ".ids.tmp"}) {
    if (path.size() > suffix.size() && path.ends_with(suffix)) return path.substr(0, path.size() - suffix.size());
  }
  return {};
}

}  // namespace

OrderedFiles orderFiles(const std::vector<std::string>& files, bool keepJournals) {
  OrderedFiles result;
  const std::set<std::string> given(files.begin(), files.end());
  // Groups by output path (directory and name as written).
  std::map<std::string, std::vector<Member>> groups;
  std::vector<std::optional<std::string>> groupOf(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    if (f == "-") continue;
    const fs::path p(f);
    if (auto split = splitRotatedName(p.filename().string())) {
      const std::string output = (p.parent_path() / split->first).string();
      groups[output].push_back({i, split->second});
      groupOf[i] = output;
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    auto it = groups.find(files[i]);
    if (it != groups.end() && !groupOf[i]) {
      it->second.push_back({i, std::nullopt});
      groupOf[i] = files[i];
    }
  }

  std::set<std::string> placed;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    if (!keepJournals) {
      const std::string output = outputOfJournal(f);
      if (!output.empty() && given.count(output) > 0) {
        result.skipped.push_back(f);
        continue;
      }
    }
    if (!groupOf[i]) {
      result.files.push_back(f);
      continue;
    }
    if (!placed.insert(*groupOf[i]).second) continue;  // the group went out at its first member
    std::vector<Member> members = groups[*groupOf[i]];
    std::stable_sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
      if (!a.name || !b.name) return a.name.has_value() && !b.name.has_value();  // the output last
      if (a.name->sameRotation(*b.name)) return !a.name->compressed && b.name->compressed;
      return *a.name < *b.name;
    });
    for (size_t m = 0; m < members.size(); ++m) {
      const Member& cur = members[m];
      const bool hasCompressedCopy = cur.name && !cur.name->compressed && m + 1 < members.size() &&
                                     members[m + 1].name && members[m + 1].name->sameRotation(*cur.name) &&
                                     members[m + 1].name->compressed;
      if (hasCompressedCopy) {
        result.skipped.push_back(files[cur.index]);
        continue;
      }
      result.files.push_back(files[cur.index]);
    }
  }
  return result;
}

std::string compressedMeanwhile(const std::string& path) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) == 0 || errno != ENOENT) return path;
  const size_t slash = path.rfind('/');
  const auto split = splitRotatedName(slash == std::string::npos ? path : path.substr(slash + 1));
  if (!split || split->second.compressed) return path;
  const std::string zst = path + ".zst";
  return ::stat(zst.c_str(), &st) == 0 ? zst : path;
}

}  // namespace logship::search
