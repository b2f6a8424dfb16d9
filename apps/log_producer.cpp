// log_producer: ships log records to the broker's logs_queue. Flags and wiring only; the shipping
// loop is producer/shipper.hpp.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/factory.hpp"
#include "broker/resolve.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "producer/drain_progress.hpp"
#include "cli/metrics.hpp"
#include "producer/input/file_input.hpp"
#include "producer/input/input_loop.hpp"
#include "producer/input/json_format.hpp"
#include "producer/input/line_format.hpp"
#include "producer/input/multiline.hpp"
#include "producer/input/stdin_input.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/producer_metrics.hpp"
#include "producer/shipper.hpp"
#include "programs.hpp"

using namespace logship;

namespace {

Field parseField(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(fmt::format("--field '{}': expected KEY=VALUE", escaped(text)));
  }
  Field f{text.substr(0, eq), text.substr(eq + 1)};
  if (const std::string_view problem = fieldKeyProblem(f.key); !problem.empty()) {
    throw UsageError(fmt::format("--field '{}': {}", escaped(f.key), problem));
  }
  return f;
}

std::unique_ptr<LineFormat> makeLineFormat(const std::string& name) {
  if (name == "json") return std::make_unique<JsonFormat>();
  return std::make_unique<TextFormat>();
}

// The inputs that replace standard input (docs/ARCHITECTURE.md, "Data flow", producer step 3), bound
// here, before the broker is contacted, so that a port in use ends the run at once. None: standard
// input is read.
std::vector<std::unique_ptr<Input>> makeListeningInputs(const apps::ProducerSettings& settings, bool haveWords,
                                                        SyslogMetrics& metrics) {
  SyslogOptions syslog = settings.syslog;
  syslog.maxMessageBytes = settings.ship.maxMessageBytes;
  if (haveWords && (!syslog.udp.empty() || !syslog.tcp.empty())) {
    throw UsageError("MESSAGE arguments cannot be combined with --syslog-udp or --syslog-tcp");
  }
  return makeSyslogInputs(syslog, &metrics);
}

using GivenHere = std::function<bool(const char*)>;

// Multiline records, for stdin and --follow alike.
MultilineOptions multilineOptions(const apps::ProducerSettings& s, const GivenHere& givenHere) {
  MultilineOptions m;
  if (!s.multilineStart.empty() && s.multilineIndented) {
    throw UsageError("--multiline-start and --multiline-indented exclude each other: give one of them");
  }
  if (!s.multilineStart.empty()) {
    m.rule = MultilineRule::startingWith(s.multilineStart, "--multiline-start");
  } else if (s.multilineIndented) {
    m.rule = MultilineRule::indented();
  } else if (givenHere("--multiline-max-lines") || givenHere("--multiline-timeout")) {
    throw UsageError("--multiline-max-lines and --multiline-timeout need --multiline-start or --multiline-indented");
  }
  m.maxLines = s.multilineMaxLines;
  m.timeout = std::chrono::milliseconds(static_cast<int64_t>(s.multilineTimeout * 1000));
  return m;
}

// --follow: adds the file input to `inputs` (before the broker is contacted: a damaged or locked
// state file is an error at once). Without --follow, its settings are refused on the command line.
void addFollowInput(std::vector<std::unique_ptr<Input>>& inputs, const apps::ProducerSettings& s,
                    const ShipperOptions& ship, const GivenHere& givenHere, LineFormat& format,
                    const Record& recordTemplate, const MultilineOptions& multiline, FollowMetrics& metrics) {
  if (s.follow.empty()) {
    for (const char* flag : {"--state-file", "--from-beginning", "--poll-interval", "--close-rotated-after"}) {
      if (givenHere(flag)) throw UsageError(fmt::format("{} needs --follow", flag));
    }
    return;
  }
  if (!s.words.empty()) throw UsageError("--follow reads files: give no MESSAGE with it");
  FileInputOptions o;
  o.patterns = s.follow;
  o.stateFile = !s.stateFile.empty() ? s.stateFile : ship.spoolDir.empty() ? "" : ship.spoolDir + "/follow.state";
  if (o.stateFile.empty()) {
    throw UsageError("--follow needs --state-file PATH (or --spool-dir DIR, which keeps it in DIR/follow.state): the "
                     "offsets read must survive a restart");
  }
  o.fromBeginning = s.fromBeginning;
  o.pollInterval = std::chrono::milliseconds(static_cast<int64_t>(s.pollInterval * 1000));
  o.closeRotatedAfter = std::chrono::milliseconds(static_cast<int64_t>(s.closeRotatedAfter * 1000));
  o.maxLineBytes = ship.maxMessageBytes;
  o.multiline = multiline;
  inputs.push_back(std::make_unique<FileInput>(std::move(o), format, recordTemplate, metrics));
}

// --service and --host as logctl tail --service takes them (core/record.hpp).
const std::string& checkedName(const char* flag, const std::string& name) {
  const std::string_view problem = recordNameProblem(name);
  if (!problem.empty()) {
    throw UsageError(fmt::format("{} '{}': {} (without {} the records have {})", flag, escaped(name), problem, flag,
                                 std::string_view(flag) == "--service" ? "the service '-'" : "this machine's name"));
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  apps::ProducerSettings settings;
  apps::defineProducer(app, settings);
  const auto& words = settings.words;
  const cli::BrokerFlags& brokerFlags = settings.broker;
  ShipperOptions& shipOptions = settings.ship;

  // A spool setting without --spool-dir is an error on the command line, but not in a host's
  // configuration file, whose [log_producer] table also serves producers run without a spool.
  auto givenHere = [&app](const char* name) {
    const CLI::Option* option = app.get_option(name);
    return option->count() > 0 && !cli::fromConfigFile(*option);
  };

  return cli::run(app, argc, argv, [&]() -> int {
    Record recordTemplate;
    auto parsedLevel = parseLevel(settings.level);
    if (!parsedLevel) throw UsageError(fmt::format("--level '{}': use trace, debug, info, warn, error or fatal", escaped(settings.level)));
    recordTemplate.level = *parsedLevel;
    recordTemplate.service = checkedName("--service", settings.service);
    recordTemplate.host = checkedName("--host", settings.host);
    for (const auto& t : settings.fields) recordTemplate.fields.push_back(parseField(t));
    shipOptions.confirmTimeout = std::chrono::milliseconds(static_cast<int64_t>(settings.confirmTimeout * 1000));
    shipOptions.linger = std::chrono::milliseconds(settings.lingerMs);
    if (!shipOptions.spoolDir.empty()) {
      if (settings.spoolMaxBytes < 4 * shipOptions.maxMessageBytes) {
        throw UsageError(fmt::format("--spool-max-bytes {} is too small for --max-message-bytes {}: give it at least "
                                     "4 times as much",
                                     settings.spoolMaxBytes, shipOptions.maxMessageBytes));
      }
      shipOptions.spoolLimits.maxBytes = settings.spoolMaxBytes;
      shipOptions.spoolLimits.dropWhenFull = settings.spoolFull == "drop";
    } else if (givenHere("--spool-max-bytes") || givenHere("--spool-full")) {
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

    // The inputs (none with MESSAGE arguments): syslog listeners and --follow, else stdin.
    std::unique_ptr<LineFormat> format = makeLineFormat(settings.inputFormat);
    FollowMetrics followMetrics;
    SyslogMetrics syslogMetrics;
    const MultilineOptions multiline = multilineOptions(settings, givenHere);
    std::vector<std::unique_ptr<Input>> inputs = makeListeningInputs(settings, !words.empty(), syslogMetrics);
    addFollowInput(inputs, settings, shipOptions, givenHere, *format, recordTemplate, multiline, followMetrics);
    const bool listening = !inputs.empty();  // runs until a stop signal
    if (inputs.empty() && words.empty()) {
      inputs.push_back(std::make_unique<StdinInput>(STDIN_FILENO, shipOptions.maxMessageBytes, *format, multiline));
    }

    cli::ProgramMetrics programMetrics("producer", settings.metricsListen);
    BrokerOptions broker = cli::resolveBroker(brokerFlags, "log_producer");
    applyWaitReplicas(broker, settings.waitReplicas,
                      std::chrono::milliseconds(static_cast<int64_t>(settings.waitTimeout * 1000)));
    ConnectionStatus connection;
    broker.status = &connection;
    metrics::Registry::Group connectionMetrics(programMetrics.registry());
    registerConnectionMetrics(connectionMetrics, programMetrics.prefix(), connection);
    // With a disk spool the producer is healthy while it can spool (producer_metrics.hpp); without,
    // only while connected.
    if (shipOptions.spoolDir.empty()) connectionMetrics.health([&connection] { return connection.problem(); });
    cli::installStopSignals();
    programMetrics.serve();
    // With a spool the producer waits for the broker in the background for as long as input comes, and
    // after the end of input for --reconnect-seconds (at least --confirm-timeout) without progress.
    shipOptions.spoolGiveUpAfter = std::max(broker.reconnectFor, shipOptions.confirmTimeout);
    const std::string queue = brokerFlags.queue;
    shipOptions.spoolQueue = queue;
    PublisherConnect connect = [&broker, queue](const std::atomic<bool>* abort) {
      BrokerOptions b = broker;
      if (abort != nullptr) {  // the spool's background connection: keep trying until told to stop
        b.stopRequested = abort;
        b.retryFor = std::chrono::hours(24 * 366);
      }
      return makePublisher(b, queue, PublishRoute::Live);
    };
    Shipper shipper(connect, std::move(recordTemplate), shipOptions);
    metrics::Registry::Group shipperMetrics(programMetrics.registry());
    registerProducerMetrics(shipperMetrics, shipper);
    registerFollowMetrics(shipperMetrics, followMetrics);
    registerSyslogMetrics(shipperMetrics, syslogMetrics);
    DrainProgress drainProgress(shipper);  // on a terminal, while an earlier run's records are sent
    bool stopped = false;

    if (!words.empty()) {
      format->ship(shipper, single, shipper.recordTemplate());
      shipper.finish(false);
    } else {
      stopped = runInputs(inputs, shipper, cli::stopRequested()) && !shipper.failed();
      if (stopped) {
        // A listening producer ends this way in the normal course; reading standard input, it was cut short.
        spdlog::log(listening ? spdlog::level::info : spdlog::level::warn,
                    shipOptions.spoolDir.empty() ? "stopped by a signal: finishing what was already read"
                                                 : "stopped by a signal: what is not confirmed stays in the spool");
      }
      try {
        shipper.finish(stopped);
      } catch (const Error&) {
        for (auto& input : inputs) input->afterFinish(shipper);  // the checkpoint: what was settled
        throw;
      }
      for (auto& input : inputs) input->afterFinish(shipper);
    }
    drainProgress.stop();

    const ShipReport r = shipper.report();
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
    if (!settings.quiet) {
      if (!words.empty()) {
        fmt::print(" [x] Sent '{}'\n", escaped(single));
      } else {
        fmt::print(stderr, "log_producer: sent {} records to '{}', all confirmed by the broker{}\n", r.confirmed,
                   brokerFlags.queue,
                   r.recovered > 0 ? fmt::format(" ({} left in the spool by an earlier run)", r.recovered) : "");
      }
    }
    return cli::kExitOk;
  }, apps::programCatalog);
}
