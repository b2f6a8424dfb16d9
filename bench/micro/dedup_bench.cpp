// The aggregator's duplicate suppression per record (aggregator/id_window.hpp, id_journal.hpp): a
// batch of our producer's records carries one run of ids (one prefix, consecutive numbers), looked
// up and remembered per run, against one lookup and one insert per id. The window is full
// (--dedup-window's default, 1,000,000 ids), so every id remembered also pushes the oldest out.
// Items are records. `build/bin/dedup_bench` (make bench-dedup).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "aggregator/id_journal.hpp"
#include "aggregator/id_window.hpp"

using namespace logship;

namespace {

constexpr size_t kWindow = 1'000'000;
const std::string kPrefix = "0123456789abcdef";

RecordIdRef idRef(uint64_t n) {
  RecordIdRef id;
  id.prefix = kPrefix;
  id.n = n;
  return id;
}

// A full window and the number of the next id.
struct FullWindow {
  IdWindow window{kWindow};
  uint64_t next = 1;
  FullWindow() {
    window.insertRun(idRef(next), kWindow);
    next += kWindow;
  }
};

void BM_WindowInsertPerId(benchmark::State& state) {
  FullWindow w;
  const auto batch = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    for (uint64_t i = 0; i < batch; ++i) w.window.insert(idRef(w.next + i));
    w.next += batch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_WindowInsertRun(benchmark::State& state) {
  FullWindow w;
  const auto batch = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    w.window.insertRun(idRef(w.next), batch);
    w.next += batch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_WindowLookupPerId(benchmark::State& state) {
  FullWindow w;
  const auto batch = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    bool any = false;
    for (uint64_t i = 0; i < batch; ++i) any = any || w.window.contains(idRef(w.next + i));
    benchmark::DoNotOptimize(any);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_WindowLookupRun(benchmark::State& state) {
  FullWindow w;
  const auto batch = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(w.window.containsAny(idRef(w.next), batch));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

// What the aggregator does per batch and output: is any of it written? then each line's id added
// to the pending batch, the journal entry written (a file in $TMPDIR), the ids remembered.
void BM_JournalBatch(benchmark::State& state) {
  std::string dir = (getenv("TMPDIR") ? std::string(getenv("TMPDIR")) : std::string("/tmp")) + "/dedup_bench.XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("cannot create a temporary directory");
    return;
  }
  const std::string output = dir + "/out.txt";
  const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  struct stat st {};
  ::fstat(fd, &st);
  const auto batch = static_cast<uint64_t>(state.range(0));
  constexpr size_t kLine = 212;  // bytes of an average realistic line (bench/loggen.py)
  {
    IdJournal journal(dir + "/out.txt.ids", output, fd, IdJournalOptions{});
    uint64_t next = 1;
    off_t offset = 0;
    for (auto _ : state) {
      benchmark::DoNotOptimize(journal.containsAny(idRef(next), batch));
      for (uint64_t i = 0; i < batch; ++i) journal.add(idRef(next + i), (i + 1) * kLine);
      journal.beforeWrite(st.st_dev, st.st_ino, offset, 0, batch * kLine);
      journal.batchWritten();
      offset += static_cast<off_t>(batch * kLine);
      next += batch;
    }
  }
  ::close(fd);
  ::unlink(output.c_str());
  ::unlink((output + ".ids").c_str());
  ::rmdir(dir.c_str());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

}  // namespace

BENCHMARK(BM_WindowInsertPerId)->Arg(1000);
BENCHMARK(BM_WindowInsertRun)->Arg(1000);
BENCHMARK(BM_WindowLookupPerId)->Arg(1000);
BENCHMARK(BM_WindowLookupRun)->Arg(1000);
BENCHMARK(BM_JournalBatch)->Arg(1000);

BENCHMARK_MAIN();
