#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "broker/options.hpp"
#include "core/file.hpp"

namespace logship {

// --stream-from: first, last, next, an offset (decimal), or an RFC 3339 time (core/timestamp.hpp,
// e.g. 2026-12-06T08:00:00Z, or a date alone; whole seconds). nullopt for anything else.
std::optional<StreamStart> parseStreamStart(std::string_view text);

// A stream reader's place, kept by the aggregator because RabbitMQ keeps none for an AMQP 0-9-1
// consumer: "<output>.offset" beside the output (docs/FORMATS.md#stream-offset-file), the offset
// of the first stream record not yet done (written to every output it goes to, or dead-lettered
// and confirmed).
//
// Written WITH the output, at the same point as the duplicate journal's durability: the collector
// saves it after each batch is in the outputs and its dead letters are confirmed, before the ack
// (which is only credit on a stream). Each save replaces the file atomically (a temporary beside
// it, renamed over it: never torn), fsynced with the directory under --fsync like the outputs and
// the journal. A crash between the outputs' write and the save leaves the previous offset: the
// batch is read again and the duplicate journal (record ids) keeps its records out of the outputs.
//
// Reading never guesses: a file that cannot be read, is not in this format, or names another queue
// is an Error naming the file and the fix, never a silent start from --stream-from (which would
// write the whole stream again, or skip part of it).
class StreamOffsetFile {
 public:
  // Reads `path` if it exists (no file: no saved offset). Error if it cannot be used.
  StreamOffsetFile(std::string path, std::string queue, mode_t mode, bool sync);

  // The offset to resume at, if one was saved.
  std::optional<int64_t> next() const { return next_; }
  // Records that every stream record before `next` is done. SystemError if it cannot be written.
  void save(int64_t next);

  const std::string& path() const { return path_; }

  // The file's text for `queue` and `next` (one format, written and parsed here).
  static std::string format(const std::string& queue, int64_t next);

 private:
  std::string path_;
  std::string queue_;
  mode_t mode_;
  bool sync_;
  std::optional<int64_t> next_;
};

}  // namespace logship
