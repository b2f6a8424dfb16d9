#pragma once
// log_producer --follow: files followed like tail -F, Filebeat or promtail (docs/ARCHITECTURE.md,
// "Following files"; guarantees in docs/RELIABILITY.md).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "core/record.hpp"
#include "metrics/metric.hpp"
#include "producer/input/checkpoint.hpp"
#include "producer/input/follow_state.hpp"
#include "producer/input/input.hpp"
#include "producer/input/line_format.hpp"
#include "producer/input/multiline.hpp"

namespace logship {

struct FileInputOptions {
  std::vector<std::string> patterns;                  // --follow: paths and glob(3) patterns
  std::string stateFile;                              // --state-file
  bool fromBeginning = false;                         // --from-beginning: files found at the first start are read whole
  std::chrono::milliseconds pollInterval{250};        // --poll-interval: stat, glob, read
  std::chrono::milliseconds closeRotatedAfter{5000};  // --close-rotated-after
  std::chrono::milliseconds saveInterval{1000};       // the state file is saved at most this often
  size_t maxLineBytes = 1024 * 1024;                  // --max-message-bytes
  MultilineOptions multiline;
};

// What the followed files did, for the producer's metrics (producer_metrics.hpp).
struct FollowMetrics {
  metrics::Gauge filesOpen;    // files open (followed, or a rotated one being finished)
  metrics::Counter rotations;  // a followed file renamed away, deleted or truncated
};

// Every file that the patterns match, followed from where the state file says (or its beginning,
// or — at the very first start — its end), one record per line (or per multiline record) made by
// `format`, with the field file=PATH. Polls (stat, fstat, glob) every pollInterval; never blocks.
class FileInput : public Input {
 public:
  // Locks and loads the state file and looks at the files once (their start offsets are fixed
  // now, and saved). Throws Error (a damaged or locked state file) or UsageError.
  FileInput(FileInputOptions options, LineFormat& format, const Record& recordTemplate, FollowMetrics& metrics);
  ~FileInput() override;

  std::string_view name() const override { return "follow"; }
  void addPollFds(std::vector<pollfd>&) override {}
  bool read(Shipper& shipper) override;
  std::chrono::milliseconds wakeIn() const override;
  void endOfInput(Shipper& shipper) override;
  void afterFinish(Shipper& shipper) override;

 private:
  using Clock = std::chrono::steady_clock;
  struct File;
  struct Seen;  // a file a scan found: its path and stat

  void scan(Shipper* shipper, Clock::time_point now, bool firstScan);
  std::vector<Seen> lookAtPatterns();
  void checkFollowed(Shipper* shipper, File& f, const Seen* at, Clock::time_point now);
  void openFile(const Seen& s, bool firstScan, Clock::time_point now);
  void resumeRotatedFromState(const FollowEntry& entry, Clock::time_point now);
  void truncated(Shipper* shipper, File& f, Clock::time_point now);
  // copytruncate: reads the rest of `f`'s old content from its copy, if one is beside it.
  bool readRotatedCopy(Shipper& shipper, File& f, Clock::time_point now);
  // `f` is open at `offset` (a new file, or one of this run's closed files opened again).
  void attach(File& f, UniqueFd fd, const std::string& path, uint64_t size, LineTag at, Clock::time_point now);
  // Reads and ships what `f` holds; false when it has more than `budget` allowed.
  bool readFile(Shipper& shipper, File& f, size_t& budget, Clock::time_point now);
  void closeFile(Shipper& shipper, File& f);  // a rotated file finished: its last partial line too
  void shipRecord(Shipper& shipper, File& f, std::string_view text);
  void mark(Shipper& shipper, File& f);
  void failFile(Shipper* shipper, File& f, const std::string& why);
  Record sourceFor(const std::string& path) const;
  // Settles the marks, forgets the closed files whose records are all safe (`forget`: not while
  // files_ is being walked) and saves the state file if it changed.
  void checkpoint(Shipper& shipper, bool final, bool forget = true);
  void markAndSaveIfDue(Shipper& shipper, File& f);  // during a long read
  std::vector<FollowEntry> entries() const;

  FileInputOptions options_;
  LineFormat& format_;
  Record template_;
  FollowMetrics& metrics_;
  FollowStateFile state_;
  std::vector<FollowEntry> unmatched_;               // state entries the first scan did not find
  std::map<uint64_t, std::unique_ptr<File>> files_;  // by number, in the order they were found
  uint64_t nextNumber_ = 1;
  CheckpointMarks marks_;
  std::vector<FollowEntry> saved_;
  std::map<std::pair<uint64_t, uint64_t>, int64_t> failed_;  // unreadable files (dev, ino) -> ctime
  std::set<std::string> warned_;                             // patterns and paths already warned about
  Clock::time_point nextScan_{};
  Clock::time_point nextSave_{};
  Clock::time_point lastSaveError_{};
  uint64_t splits_ = 0;  // multiline records cut at a limit, over all files
  Clock::time_point lastSplitWarning_{};
  bool more_ = false;        // some file has more to read now
  bool newStreams_ = false;  // a file got a new stream: save the state before reading it
};

}  // namespace logship
