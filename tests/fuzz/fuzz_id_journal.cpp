// The duplicate-suppression journal reader (aggregator/id_journal.hpp) on arbitrary journal bytes:
// never crashes, throws only SinkError, and whatever it decides, the output afterwards is a prefix
// of what it was (it may cut a fragment, never add or change bytes).
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "aggregator/file_sink.hpp"
#include "aggregator/id_journal.hpp"

namespace {

std::string dir() {
  static const std::string d = [] {
    char tmpl[] = "/tmp/fuzz-id-journal-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) std::abort();
    return std::string(made);
  }();
  return d;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string output = dir() + "/out.log";
  const std::string journal = output + ".ids";
  // The first byte chooses how much of a fixed output the file holds, the rest is the journal.
  const std::string full = "record 1\nrecord 2\nrecord three\npartial";
  const size_t keep = size > 0 ? data[0] % (full.size() + 1) : 0;
  const std::string before = full.substr(0, keep);
  {
    std::ofstream(output, std::ios::binary | std::ios::trunc) << before;
    std::ofstream j(journal, std::ios::binary | std::ios::trunc);
    if (size > 1) j.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  const int fd = ::open(output.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) std::abort();
  try {
    logship::IdJournal j(journal, output, fd, logship::IdJournalOptions{1000, false});
    (void)j.contains("x-1");
  } catch (const logship::SinkError&) {
  }
  ::close(fd);
  const std::string after = readFile(output);
  if (after.size() > before.size() || before.compare(0, after.size(), after) != 0) std::abort();
  return 0;
}
