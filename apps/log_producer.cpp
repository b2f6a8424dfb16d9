// log_producer: ships log records to the broker's logs_queue. Flags and wiring only; the shipping
// loop is producer/shipper.hpp.
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "broker/factory.hpp"
#include "broker/resolve.hpp"
#include "cli/common.hpp"
#include "cli/metrics.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "plans.hpp"
#include "producer/drain_progress.hpp"
#include "producer/input/file_input.hpp"
#include "producer/input/input_loop.hpp"
#include "producer/input/json_format.hpp"
#include "producer/input/line_format.hpp"
#include "producer/input/multiline.hpp"
#include "producer/input/stdin_input.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/producer_metrics.hpp"
#include "producer/shipper.hpp"

using namespace logship;

namespace {

std::unique_ptr<LineFormat> makeLineFormat(const std::string& name) {
  if (name == "json") return std::make_unique<JsonFormat>();
  return std::make_unique<TextFormat>();
}

// The inputs (none with MESSAGE arguments: docs/ARCHITECTURE.md, "Data flow", producer step 3):
// syslog listeners and --follow, else stdin. Made before the broker is contacted, so that a port in
// use or a damaged or locked state file ends the run at once. `listening`: the inputs run until a
// stop signal.
std::vector<std::unique_ptr<Input>> makeInputs(const apps::ProducerPlan& plan, LineFormat& format,
                                               SyslogMetrics& syslogMetrics, FollowMetrics& followMetrics,
                                               bool& listening) {
  std::vector<std::unique_ptr<Input>> inputs = makeSyslogInputs(plan.syslog, &syslogMetrics);
  if (plan.follow) {
    inputs.push_back(std::make_unique<FileInput>(*plan.follow, format, plan.recordTemplate, followMetrics));
  }
  listening = !inputs.empty();
  if (inputs.empty() && !plan.sendsMessage) {
    inputs.push_back(std::make_unique<StdinInput>(STDIN_FILENO, plan.ship.maxMessageBytes, format, plan.multiline));
  }
  return inputs;
}

}  // namespace

// cli::run catches what the program throws; only a programming error in defining the flags could escape
// before it, and std::terminate is the right end for that.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app;
  apps::ProducerSettings settings;
  apps::defineProducer(app, settings);

  return cli::run(
      app, argc, argv,
      [&](const cli::Configuration& config) -> int {
        apps::ProducerPlan plan = apps::planProducer(app, settings, config);
        // Before any input starts (and says so in a log line): a stop signal from then on is a stop.
        cli::installStopSignals();
        const cli::BrokerFlags& brokerFlags = settings.broker;
        ShipperOptions& shipOptions = plan.ship;
        std::unique_ptr<LineFormat> format = makeLineFormat(settings.inputFormat);
        FollowMetrics followMetrics;
        SyslogMetrics syslogMetrics;
        bool listening = false;
        std::vector<std::unique_ptr<Input>> inputs = makeInputs(plan, *format, syslogMetrics, followMetrics, listening);

        cli::ProgramMetrics programMetrics("producer", settings.metricsListen);
        BrokerOptions broker = cli::resolveBroker(brokerFlags, "log_producer", &config);
        applyWaitReplicas(broker, plan.waitReplicas, plan.waitTimeout);
        ConnectionStatus connection;
        broker.status = &connection;
        metrics::Registry::Group connectionMetrics(programMetrics.registry());
        registerConnectionMetrics(connectionMetrics, programMetrics.prefix(), connection);
        // With a disk spool the producer is healthy while it can spool (producer_metrics.hpp); without,
        // only while connected.
        if (shipOptions.spoolDir.empty()) connectionMetrics.health([&connection] { return connection.problem(); });
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
        Shipper shipper(connect, std::move(plan.recordTemplate), shipOptions);
        metrics::Registry::Group shipperMetrics(programMetrics.registry());
        registerProducerMetrics(shipperMetrics, shipper);
        registerFollowMetrics(shipperMetrics, followMetrics);
        registerSyslogMetrics(shipperMetrics, syslogMetrics);
        DrainProgress drainProgress(shipper);  // on a terminal, while an earlier run's records are sent
        bool stopped = false;

        if (plan.sendsMessage) {
          format->ship(shipper, plan.message, shipper.recordTemplate());
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
          if (r.dropped > 0)
            parts.push_back(fmt::format("{} dropped because the spool was full (--spool-full drop)", r.dropped));
          if (r.remaining > 0) {
            parts.push_back(
                fmt::format("{} still in the spool {} (the broker was unreachable; run log_producer "
                            "--spool-dir {} again to send them)",
                            r.remaining, spoolDir, spoolDir));
          }
          fmt::print(stderr, "log_producer: error: {} of {} records not delivered: {}\n",
                     r.failed + r.refused + r.dropped + r.remaining, r.sent + r.recovered + r.refused + r.dropped,
                     fmt::join(parts, ", "));
          return cli::kExitFailure;
        }
        if (!settings.quiet) {
          if (plan.sendsMessage) {
            fmt::print(" [x] Sent '{}'\n", escaped(plan.message));
          } else {
            fmt::print(stderr, "log_producer: sent {} records to '{}', all confirmed by the broker{}\n", r.confirmed,
                       brokerFlags.queue,
                       r.recovered > 0 ? fmt::format(" ({} left in the spool by an earlier run)", r.recovered) : "");
          }
        }
        return cli::kExitOk;
      },
      apps::programCatalog);
}
