#pragma once
#include <sys/types.h>

#include <string>

#include "core/error.hpp"
#include "core/file.hpp"

namespace logship {

// One aggregator per output file: the duplicate journal's offsets, the repair of a torn last line
// and rotation all assume that nobody else appends to the file. Each output (the default one and
// every route file) is locked while an aggregator writes it: flock(2) on the hidden file
// DIR/.NAME.lock beside it, which holds the owner's pid and host name. The kernel releases the
// lock when the process ends, however it ends, so a crash never leaves a stale lock behind.
class OutputLock {
 public:
  // Takes the lock of `outputPath` (the lock file is created with `mode`, never through a link).
  // Error naming the other process if another aggregator holds it; Error if it cannot be taken.
  OutputLock(const std::string& outputPath, mode_t mode);

  // The lock file of `outputPath`: DIR/.NAME.lock.
  static std::string pathFor(const std::string& outputPath);

 private:
  UniqueFd fd_;
};

}  // namespace logship
