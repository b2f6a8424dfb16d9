// log_aggregator: consumes logs_queue and appends one line per record to a file. Flags and wiring
// only; the loop is aggregator/collector.hpp.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aggregator/collector.hpp"
#include "aggregator/file_sink.hpp"
#include "aggregator/rotation.hpp"
#include "broker/factory.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/units.hpp"

using namespace logship;

namespace {

// Redis: the default consumer id is "<host>:<absolute output path>", stable across restarts, so a
// restarted aggregator takes back the records its previous run had not finished.
std::string defaultConsumerId(const std::string& output) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  std::error_code ec;
  auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(output, ec), ec);
  if (ec) path = std::filesystem::path(output).lexically_normal();
  return fmt::format("{}:{}", host, escaped(path.string()));
}

void validateConsumerId(const std::string& id) {
  if (id.empty() || id.size() > 200) throw UsageError("--consumer-id: must be 1 to 200 bytes long");
  for (unsigned char c : id) {
    if (c <= 0x20 || c == 0x7f) {
      throw UsageError(fmt::format("--consumer-id: '{}' contains a space or control character", escaped(id)));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Consumes log records from a message broker (RabbitMQ queue or Redis list logs_queue) and appends\n"
               "them to a file, one line per record. A record is acknowledged only after its line is written; run several\n"
               "aggregators on one queue to share the work.",
               "log_aggregator"};
  app.footer(
      "Examples:\n"
      "  log_aggregator                                   # logs_queue on localhost -> ./aggregated_logs.txt\n"
      "  log_aggregator --output /var/log/all.log --format json --fsync\n"
      "  log_aggregator --prefetch 1                      # the tutorial's strict fair dispatch\n"
      "  log_aggregator --idle-exit 5                     # drain the queue, exit after 5 quiet seconds\n"
      "  log_aggregator --broker redis://localhost --password-file /etc/logship/redis.pw\n"
      "  log_aggregator --rotate-bytes 100M --rotate-interval 1d --keep 30   # zstd-compressed rotated files\n"
      "\n"
      "SIGHUP: reopens the output path (after logrotate renamed the file; no copytruncate needed).\n"
      "SIGINT/SIGTERM: stops consuming, acks what was written, leaves the rest to the broker, exits 0\n"
      "(1 if it was holding records it could not write: they go back to the queue).\n"
      "Output write errors (disk full, file too large, I/O error): nothing unwritten is acknowledged; the\n"
      "aggregator holds the records, retries with backoff (0.5 s doubling to 30 s) and resumes once it can write.\n"
      "Poison messages: a record delivered --max-deliveries times without being written (its aggregator crashed\n"
      "or lost its connection each time) goes to the dead-letter queue instead of being redelivered forever.");
  cli::BrokerFlags brokerFlags;
  std::string output = "aggregated_logs.txt";
  std::string format = "text";
  ConsumerOptions consumerOptions;
  CollectorOptions options;
  double idleExit = 0;
  double leaseSeconds = 30;
  double writeRetrySeconds = -1;
  IdJournalOptions dedup;
  RotationOptions rotation;
  std::string compress = "zstd";
  uint64_t rotateBytes = 0;
  int64_t rotateIntervalSeconds = 0;
  int64_t keep = 0;
  int64_t maxAgeSeconds = 0;

  cli::addBrokerFlags(app, brokerFlags);
  brokerFlags.reconnectSeconds = 31536000;  // a year: until stopped
  cli::addReconnectFlag(app, brokerFlags);
  app.add_option("-o,--output", output, "File to append records to")->capture_default_str();
  app.add_option("--format", format, "Output format: text, raw (message only) or json (JSON lines)")
      ->check(CLI::IsMember({"text", "raw", "json"}))
      ->capture_default_str();
  app.add_option("--prefetch", consumerOptions.prefetch,
                 "Unacknowledged deliveries the broker may send ahead (1 = strict fair dispatch)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  auto* consumerIdOption = app.add_option("--consumer-id", consumerOptions.consumerId,
                 "Redis: this aggregator's stable name; its processing list is <queue>.processing.<ID> "
                 "(default: <host>:<absolute output path>)");
  app.add_option("--lease-seconds", leaseSeconds,
                 "Redis: an aggregator silent this long counts as dead and its unfinished records are put back")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_flag("--fsync", options.fsync, "fdatasync the output before acknowledging (survives power loss)");
  app.add_option("--idle-exit", idleExit, "Exit 0 once no delivery arrived for this many seconds (0 = never)")
      ->check(CLI::Range(0.0, 31536000.0))
      ->capture_default_str();
  auto* writeRetryOption = app.add_option(
      "--write-retry-seconds", writeRetrySeconds,
      "Keep retrying an unwritable output this long, then exit 1 (default: forever; 0: fail at the first error)");
  writeRetryOption->check(CLI::Range(0.0, 31536000.0));
  app.add_option("--dedup-window", dedup.window,
                 "Remember the ids of this many recent records (journal <output>.ids) and do not write a record "
                 "again whose id was written to this output (0 = no deduplication, no journal)")
      ->check(CLI::Range(size_t{0}, size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--max-deliveries", options.maxDeliveries,
                 "Dead-letter a record once this many of its deliveries ended without its being written (the "
                 "aggregator holding it crashed or lost its connection); 0 = no limit")
      ->check(CLI::Range(uint32_t{0}, uint32_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-message-bytes", options.maxMessageBytes,
                 "Dead-letter deliveries larger than this instead of writing them")
      ->check(CLI::Range(size_t{1}, size_t{512} * 1024 * 1024))
      ->capture_default_str();

  constexpr int64_t kYear = 366 * 86'400;
  app.add_option("--rotate-bytes", rotateBytes,
                 "Rotate the output before a write would take it past SIZE (suffixes K, M, G: 1024-based)")
      ->transform(cli::byteSize(uint64_t{1} << 10, uint64_t{1} << 50))
      ->type_name("SIZE");
  app.add_option("--rotate-interval", rotateIntervalSeconds,
                 "Rotate the output at every multiple of DURATION since the epoch, in UTC (1h: on the hour; 1d: at "
                 "midnight UTC)")
      ->transform(cli::duration(std::chrono::seconds(1), std::chrono::seconds(kYear)))
      ->type_name("DURATION");
  auto* compressOption = app.add_option("--compress", compress, "Compress rotated files: zstd or none")
                             ->check(CLI::IsMember({"zstd", "none"}))
                             ->capture_default_str();
  auto* keepOption = app.add_option("--keep", keep, "Keep the N newest rotated files, delete older ones")
                         ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}))
                         ->type_name("N");
  auto* maxAgeOption =
      app.add_option("--max-age", maxAgeSeconds, "Delete rotated files once DURATION has passed since their rotation")
          ->transform(cli::duration(std::chrono::seconds(1), std::chrono::seconds(100 * kYear)))
          ->type_name("DURATION");

  return cli::run(app, argc, argv, [&]() -> int {
    options.format = *parseOutputFormat(format);
    options.idleExit = std::chrono::milliseconds(static_cast<int64_t>(idleExit * 1000));
    if (writeRetryOption->count() > 0) {
      options.writeRetryFor = std::chrono::milliseconds(static_cast<int64_t>(writeRetrySeconds * 1000));
    }
    consumerOptions.queue = brokerFlags.queue;
    consumerOptions.leaseTtl = std::chrono::milliseconds(static_cast<int64_t>(leaseSeconds * 1000));
    if (consumerIdOption->count() > 0) {
      validateConsumerId(consumerOptions.consumerId);
    } else {
      consumerOptions.consumerId = defaultConsumerId(output);
    }
    rotation.maxBytes = rotateBytes;
    rotation.interval = std::chrono::seconds(rotateIntervalSeconds);
    rotation.compress = compress == "zstd";
    rotation.keep = static_cast<size_t>(keep);
    rotation.maxAge = std::chrono::seconds(maxAgeSeconds);
    if (!rotation.rotates()) {
      for (const auto* o : {compressOption, keepOption, maxAgeOption}) {
        if (o->count() > 0) {
          throw UsageError(fmt::format("{} applies to rotated files: give --rotate-bytes or --rotate-interval too",
                                       o->get_name()));
        }
      }
    }
    BrokerOptions broker = cli::resolveBroker(brokerFlags, "log_aggregator");
    cli::installStopSignals();
    cli::installReopenSignal();
    std::signal(SIGXFSZ, SIG_IGN);  // over RLIMIT_FSIZE: EFBIG, which is held and retried, not death

    FileSink sink(output);
    dedup.fsync = options.fsync;
    sink.enableDedup(dedup);
    if (const IdJournal* journal = sink.journal()) {
      const auto& r = journal->recovery();
      if (r.journalDamaged) spdlog::warn("{} ended in a torn entry (a crash while writing it): ignored", escaped(journal->path()));
      if (r.cutBytes > 0) {
        spdlog::warn("cut an incomplete last line ({} bytes) off {} (left by a crash); its record will be written "
                     "again when redelivered", r.cutBytes, escaped(output));
      }
      if (!r.checkedIn.empty()) {
        spdlog::info("{} was rotated after the last write of the previous run: checked that write in {}",
                     escaped(output), escaped(r.checkedIn));
      }
      if (r.outputChanged) {
        spdlog::warn("{} is not the file {} last wrote to (rotated or truncated?): the ids of that last write "
                     "({}) are not used for deduplication", escaped(output), escaped(journal->path()), r.forgotten);
      } else if (r.outputGrew) {
        spdlog::warn("{} is longer than {} says: was something else appending to it? Only one aggregator may write "
                     "to an output", escaped(output), escaped(journal->path()));
      } else if (r.forgotten > 0) {
        spdlog::info("{} records of the last write before a crash are not complete in {}; they will be written when "
                     "redelivered", r.forgotten, escaped(output));
      }
    }
    // Rotation, compression and retention; reopening on SIGHUP.
    OutputRotator rotator(sink, rotation, &cli::reopenRequested());
    std::unique_ptr<Consumer> consumer;
    try {
      consumer = makeConsumer(broker, consumerOptions);
    } catch (const InterruptedError&) {
      spdlog::info("stopped before reaching the broker: nothing was consumed");
      return cli::kExitOk;
    }
    // Publishers to the dead-letter queue and (redeliveries sent on with their count) to the queue.
    Collector collector(
        *consumer, sink, [&](const std::string& queue) { return makePublisher(broker, queue); }, brokerFlags.queue,
        options, cli::stopRequested());
    collector.setMaintenance(&rotator);
    fmt::print(" [*] Waiting for logs on '{}' at {}, writing to {}. To exit press CTRL+C\n", brokerFlags.queue,
               broker.url.redacted(), output);
    std::fflush(stdout);
    try {
      collector.run();
    } catch (const InterruptedError&) {
      // Stopped while reconnecting: nothing taken on the broken connection was acked, so the
      // broker has it; everything acked was written.
      spdlog::info("stopped while reconnecting to the broker");
    } catch (...) {
      const auto& s = collector.stats();
      spdlog::error("stopping after {} records written; deliveries not acknowledged go back to the queue", s.written);
      throw;
    }
    consumer->close();
    const auto& s = collector.stats();
    spdlog::info("wrote {} records to {} ({} dead-lettered, {} of them as poison, {} redelivered, {} put back to count "
                 "a failed delivery, {} duplicates skipped{})",
                 s.written, output, s.deadLettered, s.poison, s.redelivered, s.recounted, s.duplicates,
                 s.writeErrors > 0 ? fmt::format(", {} failed write attempts", s.writeErrors) : "");
    rotator.finish();
    const RotatorStats r = rotator.stats();
    if (r.rotations > 0 || r.reopens > 0 || r.compressed > 0 || r.deleted > 0) {
      spdlog::info("rotated {} {} times, reopened it {} times; {} rotated files compressed, {} deleted by retention",
                   escaped(output), r.rotations, r.reopens, r.compressed, r.deleted);
    }
    return cli::kExitOk;
  });
}
