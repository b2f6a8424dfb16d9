#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace logship {

// A write to the output failed (disk full, permission, I/O error).
class SinkError : public Error {
 public:
  using Error::Error;
};

// Appends to one output file through an owned descriptor (O_APPEND, so several writers on one file
// never interleave inside a write). write() returning means the bytes are in the kernel: they
// survive a crash of this process; sync() makes them survive a power loss too.
class FileSink {
 public:
  explicit FileSink(std::string path);
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink();

  void write(std::string_view data);  // whole or SinkError
  void sync();                        // fdatasync or SinkError
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace logship
