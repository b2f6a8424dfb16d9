// log_producer: ships log records to the broker's logs_queue. Flags and wiring only; the shipping
// loop is producer/shipper.hpp.
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/factory.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "producer/line_reader.hpp"
#include "producer/shipper.hpp"

using namespace logship;

namespace {

std::string localHostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "-";
  return host;
}

Field parseField(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(fmt::format("--field '{}': expected KEY=VALUE", escaped(text)));
  }
  Field f{text.substr(0, eq), text.substr(eq + 1)};
  for (unsigned char c : f.key) {
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) {
      throw UsageError(fmt::format("--field '{}': keys may hold only letters, digits, '_', '.' and '-'", escaped(f.key)));
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ships log records to a message broker (RabbitMQ logs_queue) with publisher confirms.\n"
               "With MESSAGE arguments it sends them, joined by spaces, as one record; without, it reads\n"
               "records from standard input, one per line (empty lines are skipped), until end of input.",
               "log_producer"};
  app.footer(
      "Examples:\n"
      "  log_producer \"Log Entry 1: This is a sample log.\"\n"
      "  tail -F /var/log/app.log | log_producer --service app --level info\n"
      "  LOGSHIP_PASSWORD=secret log_producer --broker amqp://logship@mq.example:5672/ < batch.log\n"
      "\n"
      "Exit status: 0 when the broker confirmed every record read, 1 otherwise (the reason is printed),\n"
      "2 for a bad flag, value or URL.");
  std::vector<std::string> words;
  cli::BrokerFlags brokerFlags;
  std::string level = "info";
  std::string service = "-";
  std::string host = localHostName();
  std::vector<std::string> fieldTexts;
  ShipperOptions shipOptions;
  double confirmTimeout = 30;
  bool quiet = false;
  size_t spoolMaxBytes = size_t{1} << 30;
  std::string spoolFull = "block";

  app.add_option("message", words, "The record's message text (omit to read lines from stdin)");
  cli::addBrokerFlags(app, brokerFlags);
  brokerFlags.reconnectSeconds = 300;
  cli::addReconnectFlag(app, brokerFlags);
  app.add_option("--level", level, "Record level: trace, debug, info, warn, error, fatal")->capture_default_str();
  app.add_option("--service", service, "Service (application) name of the records")->capture_default_str();
  app.add_option("--host", host, "Host name of the records (default: this machine's)");
  app.add_option("--field", fieldTexts, "Extra KEY=VALUE field on every record (repeat the flag for more)")
      ->allow_extra_args(false);
  app.add_option("--max-message-bytes", shipOptions.maxMessageBytes, "Refuse messages larger than this")
      ->check(CLI::Range(size_t{1}, size_t{64} * 1024 * 1024))
      ->capture_default_str();
  app.add_option("--confirm-window", shipOptions.confirmWindow, "Messages in flight awaiting broker confirms")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--confirm-timeout", confirmTimeout, "Seconds to wait for the broker's last confirms")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--batch-records", shipOptions.batchRecords,
                 "Records per broker message at most (1: one record per message, the tutorial's format)")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--batch-bytes", shipOptions.batchBytes, "Text bytes per broker message at most (suffixes K, M)")
      ->transform(cli::byteSize(1, uint64_t{64} << 20))
      ->type_name("SIZE")
      ->default_str("256K");
  int lingerMs = 5;
  app.add_option("--linger-ms", lingerMs, "How long a batch waits for more records before it is sent")
      ->check(CLI::Range(0, 60'000))
      ->capture_default_str();
  app.add_option("--spool-dir", shipOptions.spoolDir,
                 "Keep every record on disk in DIR until the broker confirmed it: records are accepted while the "
                 "broker is down, and a restarted producer sends what an earlier run left (docs/RELIABILITY.md)")
      ->envname("LOGSHIP_SPOOL_DIR");
  app.add_option("--spool-max-bytes", spoolMaxBytes, "Size cap of the spool on disk (suffixes K, M, G: 1024-based)")
      ->transform(cli::byteSize(uint64_t{1} << 20, uint64_t{1} << 50))
      ->type_name("SIZE")
      ->default_str("1G");
  app.add_option("--spool-full", spoolFull,
                 "At the spool's cap: 'block' stops reading input until the broker catches up; 'drop' drops "
                 "records, counting them and warning")
      ->check(CLI::IsMember({"block", "drop"}))
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "Print nothing on success");

  return cli::run(app, argc, argv, [&]() -> int {
    Record recordTemplate;
    auto parsedLevel = parseLevel(level);
    if (!parsedLevel) throw UsageError(fmt::format("--level '{}': use trace, debug, info, warn, error or fatal", escaped(level)));
    recordTemplate.level = *parsedLevel;
    recordTemplate.service = service;
    recordTemplate.host = host;
    for (const auto& t : fieldTexts) recordTemplate.fields.push_back(parseField(t));
    shipOptions.confirmTimeout = std::chrono::milliseconds(static_cast<int64_t>(confirmTimeout * 1000));
    shipOptions.linger = std::chrono::milliseconds(lingerMs);
    if (!shipOptions.spoolDir.empty()) {
      if (spoolMaxBytes < 4 * shipOptions.maxMessageBytes) {
        throw UsageError(fmt::format("--spool-max-bytes {} is too small for --max-message-bytes {}: give it at least "
                                     "4 times as much",
                                     spoolMaxBytes, shipOptions.maxMessageBytes));
      }
      shipOptions.spoolLimits.maxBytes = spoolMaxBytes;
      shipOptions.spoolLimits.dropWhenFull = spoolFull == "drop";
    } else if (app.count("--spool-max-bytes") > 0 || app.count("--spool-full") > 0) {
      throw UsageError("--spool-max-bytes and --spool-full need --spool-dir");
    }

    std::string single;
    if (!words.empty()) {
      for (const auto& w : words) single += (single.empty() ? "" : " ") + w;
      if (single.size() > shipOptions.maxMessageBytes) {
        throw UsageError(fmt::format("message of {} bytes is over the limit of {} bytes (--max-message-bytes)",
                                     single.size(), shipOptions.maxMessageBytes));
      }
    }

    BrokerOptions broker = cli::resolveBroker(brokerFlags, "log_producer");
    cli::installStopSignals();
    // With a spool the producer waits for the broker in the background for as long as input comes, and
    // after the end of input for --reconnect-seconds (at least --confirm-timeout) without progress.
    shipOptions.spoolGiveUpAfter = std::max(broker.reconnectFor, shipOptions.confirmTimeout);
    const std::string queue = brokerFlags.queue;
    PublisherConnect connect = [&broker, queue](const std::atomic<bool>* abort) {
      BrokerOptions b = broker;
      if (abort != nullptr) {  // the spool's background connection: keep trying until told to stop
        b.stopRequested = abort;
        b.retryFor = std::chrono::hours(24 * 366);
      }
      return makePublisher(b, queue);
    };
    Shipper shipper(connect, std::move(recordTemplate), shipOptions);
    bool stopped = false;

    if (!words.empty()) {
      shipper.ship(single);
    } else {
      LineReader reader(STDIN_FILENO, shipOptions.maxMessageBytes);
      std::string_view line;
      size_t skipped = 0;
      bool done = false;
      uint64_t emptyLines = 0;  // carry no information: skipped, and counted in the summary
      while (!done && !cli::stopRequested().load() && !shipper.failed()) {
        switch (reader.next(line, skipped, shipper.wakeIn())) {
          case LineReader::Result::Line:
            if (line.empty()) {
              ++emptyLines;
            } else {
              shipper.ship(line);
            }
            break;
          case LineReader::Result::TooLong:
            shipper.refuse();
            spdlog::error("line {} refused: {} bytes is over the limit of {} bytes (--max-message-bytes)",
                          reader.lineNumber(), skipped, shipOptions.maxMessageBytes);
            break;
          case LineReader::Result::Idle: shipper.flushDue(); break;  // the sender thread services the connection
          case LineReader::Result::Eof: done = true; break;
        }
      }
      stopped = !done && !shipper.failed();
      if (stopped) {
        spdlog::warn(shipOptions.spoolDir.empty() ? "stopped by a signal: finishing what was already read"
                                                  : "stopped by a signal: what is not confirmed stays in the spool");
      }
      if (emptyLines > 0) spdlog::info("skipped {} empty line(s)", emptyLines);
    }
    shipper.finish(stopped);

    const ShipReport& r = shipper.report();
    const std::string spoolDir = escaped(shipOptions.spoolDir);
    if (stopped && r.remaining > 0 && r.failed == 0 && r.refused == 0 && r.dropped == 0) {
      spdlog::info("{} record(s) stay in the spool {} for the next run", r.remaining, spoolDir);
      return cli::kExitOk;  // a graceful stop of a spooling producer loses nothing
    }
    if (!shipper.allConfirmed()) {
      std::vector<std::string> parts;
      if (r.failed > 0) {
        parts.push_back(fmt::format("{} not confirmed by the broker ({}){}", r.failed, r.firstFailure,
                                    spoolDir.empty() ? "" : fmt::format(", kept in {}/refused.log", spoolDir)));
      }
      if (r.refused > 0) parts.push_back(fmt::format("{} refused as too large", r.refused));
      if (r.dropped > 0) parts.push_back(fmt::format("{} dropped because the spool was full (--spool-full drop)", r.dropped));
      if (r.remaining > 0) {
        parts.push_back(fmt::format("{} still in the spool {} (the broker was unreachable; run log_producer "
                                    "--spool-dir {} again to send them)",
                                    r.remaining, spoolDir, spoolDir));
      }
      fmt::print(stderr, "log_producer: error: {} of {} records not delivered: {}\n",
                 r.failed + r.refused + r.dropped + r.remaining, r.sent + r.recovered + r.refused + r.dropped,
                 fmt::join(parts, ", "));
      return cli::kExitFailure;
    }
    if (!quiet) {
      if (!words.empty()) {
        fmt::print(" [x] Sent '{}'\n", escaped(single));
      } else {
        fmt::print(stderr, "log_producer: sent {} records to '{}', all confirmed by the broker{}\n", r.confirmed,
                   brokerFlags.queue,
                   r.recovered > 0 ? fmt::format(" ({} left in the spool by an earlier run)", r.recovered) : "");
      }
    }
    return cli::kExitOk;
  });
}
