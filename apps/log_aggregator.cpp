// log_aggregator: consumes logs_queue and appends one line per record to a file. Flags and wiring
// only; the loop is aggregator/collector.hpp.
#include <unistd.h>

#include <csignal>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "aggregator/aggregator_metrics.hpp"
#include "aggregator/collector.hpp"
#include "aggregator/file_sink.hpp"
#include "aggregator/output_lock.hpp"
#include "aggregator/redelivery.hpp"
#include "aggregator/rotation.hpp"
#include "aggregator/route.hpp"
#include "aggregator/router.hpp"
#include "aggregator/stream_offset.hpp"
#include "broker/factory.hpp"
#include "broker/resolve.hpp"
#include "cli/common.hpp"
#include "cli/metrics.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "plans.hpp"

using namespace logship;

namespace {

// " (shards 0, 2 of 3)" for a sharded queue, "" for one queue.
std::string shardsConsumed(uint32_t shards, const std::vector<uint32_t>& ids) {
  if (shards == 0) return "";
  if (ids.empty()) return fmt::format(" (all {} shards)", shards);
  return fmt::format(" (shard{} {} of {})", ids.size() == 1 ? "" : "s", fmt::join(ids, ", "), shards);
}

// Opens an output (the default one or a route's) with its duplicate journal, which first repairs
// what a crash left, and says what it found.
std::unique_ptr<FileSink> openOutput(const std::string& output, const OutputFileOptions& file,
                                     const IdJournalOptions& dedup) {
  auto sink = std::make_unique<FileSink>(output, file);
  sink->enableDedup(dedup);
  if (const IdJournal* journal = sink->journal()) {
    const auto& r = journal->recovery();
    if (r.journalDamaged)
      spdlog::warn("{} ended in a torn entry (a crash while writing it): ignored", escaped(journal->path()));
    if (r.cutBytes > 0) {
      spdlog::warn(
          "cut an incomplete last line ({} bytes) off {} (left by a crash); its record will be written "
          "again when redelivered",
          r.cutBytes, escaped(output));
    }
    if (!r.checkedIn.empty()) {
      spdlog::info("{} was rotated after the last write of the previous run: checked that write in {}", escaped(output),
                   escaped(r.checkedIn));
    }
    if (r.outputChanged) {
      spdlog::warn(
          "{} is not the file {} last wrote to (rotated or truncated?): the ids of that last write "
          "({}) are not used for deduplication",
          escaped(output), escaped(journal->path()), r.forgotten);
    } else if (r.outputGrew) {
      spdlog::warn(
          "{} is longer than {} says: was something else appending to it? Only one aggregator may write "
          "to an output",
          escaped(output), escaped(journal->path()));
    } else if (r.forgotten > 0) {
      spdlog::info(
          "{} records of the last write before a crash are not complete in {}; they will be written when "
          "redelivered",
          r.forgotten, escaped(output));
    }
  }
  return sink;
}

}  // namespace

// cli::run catches what the program throws; only a programming error in defining the flags could escape
// before it, and std::terminate is the right end for that.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app;
  apps::AggregatorSettings settings;
  apps::defineAggregator(app, settings);

  return cli::run(
      app, argc, argv,
      [&](const cli::Configuration& config) -> int {
        apps::AggregatorPlan plan = apps::planAggregator(settings);
        const cli::BrokerFlags& brokerFlags = settings.broker;
        const std::string& output = settings.output;
        ConsumerOptions& consumerOptions = plan.consumer;
        CollectorOptions& options = plan.collector;
        const std::vector<RouteRule>& routes = plan.routes;
        cli::ProgramMetrics programMetrics("aggregator", settings.metricsListen);
        BrokerOptions broker = cli::resolveBroker(brokerFlags, "log_aggregator", &config);
        broker.management = cli::resolveManagement(settings.managementUrl, broker, brokerFlags.requireTls);
        // The consumer's connection is the one /healthz and the metrics report; the publishers of dead
        // letters and recounted redeliveries connect when first needed and are not tracked.
        ConnectionStatus connection;
        BrokerOptions forwardBroker = broker;
        broker.status = &connection;
        metrics::Registry::Group connectionMetrics(programMetrics.registry());
        registerConnectionMetrics(connectionMetrics, programMetrics.prefix(), connection);
        connectionMetrics.health([&connection] { return connection.problem(); });
        cli::installStopSignals();
        cli::installReopenSignal();
        std::signal(SIGXFSZ, SIG_IGN);  // over RLIMIT_FSIZE: EFBIG, which is held and retried, not death
        programMetrics.serve();

        // The outputs: the default one, then one per route, each with its own duplicate journal and
        // its own rotation (the router passes SIGHUP on to each of them).
        std::vector<std::unique_ptr<FileSink>> sinks;
        const OutputFileOptions& fileOptions = plan.file;
        // One aggregator per file, checked before any file is touched (a second one exits 1 naming the first).
        std::vector<OutputLock> locks;
        locks.emplace_back(output, fileOptions.mode);
        for (const RouteRule& route : routes) locks.emplace_back(route.file, fileOptions.mode);
        sinks.push_back(openOutput(output, fileOptions, plan.dedup));
        for (const RouteRule& route : routes) sinks.push_back(openOutput(route.file, fileOptions, plan.dedup));
        Router router(*sinks[0], settings.unroutedOnly);
        for (size_t i = 0; i < routes.size(); ++i) router.addRoute(routes[i], *sinks[i + 1]);
        router.setReopenRequest(&cli::reopenRequested());
        std::vector<std::unique_ptr<OutputRotator>> rotators;
        for (size_t i = 0; i < router.size(); ++i) {
          rotators.push_back(std::make_unique<OutputRotator>(router.sink(i), plan.rotation));
          router.setMaintenance(i, rotators.back().get());
        }
        // A stream's place (used only if the queue turns out to be a RabbitMQ stream): beside the
        // output, under its lock; a saved one wins over --stream-from.
        std::optional<StreamOffsetFile> streamOffsets;
        if (broker.url.scheme != BrokerUrl::Scheme::Redis) {
          streamOffsets.emplace(output + ".offset", brokerFlags.queue, fileOptions.mode, options.fsync);
          consumerOptions.stream =
              std::make_shared<StreamPosition>(StreamPosition{plan.streamStart, streamOffsets->next()});
        }
        std::unique_ptr<Consumer> consumer;
        try {
          consumer = makeConsumer(broker, consumerOptions);
        } catch (const InterruptedError&) {
          spdlog::info("stopped before reaching the broker: nothing was consumed");
          return cli::kExitOk;
        }
        // A quorum queue's own delivery limit lowers --max-deliveries: it dead-letters first.
        const JudgedLimit limit = judgedLimit(options.maxDeliveries, findDeliveryLimits(broker, consumerOptions));
        options.maxDeliveries = limit.maxDeliveries;
        if (!limit.line.empty()) spdlog::log(limit.warn ? spdlog::level::warn : spdlog::level::info, "{}", limit.line);
        // Publishers to the dead-letter queue and (redeliveries sent on with their count) to the queue.
        Collector collector(
            *consumer, router,
            [&](const std::string& queue, PublishRoute route) { return makePublisher(forwardBroker, queue, route); },
            brokerFlags.queue, options, cli::stopRequested());
        if (streamOffsets) collector.setStreamOffsets(&*streamOffsets);
        metrics::Registry::Group collectorMetrics(programMetrics.registry());
        registerAggregatorMetrics(collectorMetrics, collector, router);
        std::string routed;
        for (const RouteRule& route : routes) routed += fmt::format("{}{}", routed.empty() ? "" : ", ", route.file);
        if (!routed.empty())
          routed = fmt::format(", routes to {}{}", routed, settings.unroutedOnly ? " (--unrouted-only)" : "");
        fmt::print(" [*] Waiting for logs on '{}'{} at {}, writing to {}{}. To exit press CTRL+C\n", brokerFlags.queue,
                   shardsConsumed(brokerFlags.shards, consumerOptions.shardIds), broker.url.redacted(), output, routed);
        std::fflush(stdout);
        try {
          collector.run();
        } catch (const InterruptedError&) {
          // Stopped while reconnecting: nothing taken on the broken connection was acked, so the
          // broker has it; everything acked was written.
          spdlog::info("stopped while reconnecting to the broker");
        } catch (...) {
          const CollectorStats s = collector.stats();
          spdlog::error("stopping after {} records written; deliveries not acknowledged go back to the queue",
                        s.written);
          throw;
        }
        consumer->close();
        const CollectorStats s = collector.stats();
        spdlog::info(
            "wrote {} records to {}{} ({} dead-lettered, {} of them as poison, {} redelivered, {} put back to "
            "count a failed delivery, {} duplicates skipped{})",
            s.written, output, routes.empty() ? "" : fmt::format(" and {} route files", routes.size()), s.deadLettered,
            s.poison, s.redelivered, s.recounted, s.duplicates,
            s.writeErrors > 0 ? fmt::format(", {} failed write attempts", s.writeErrors) : "");
        if (!routes.empty()) {
          std::string perFile;
          for (size_t i = 0; i < router.size(); ++i) {
            perFile += fmt::format("{}{} {} ({})", i == 0 ? "" : ", ", escaped(router.sink(i).path()),
                                   router.output(i).linesWritten.value(), router.routeLabel(i));
          }
          spdlog::info("lines written per file: {}", perFile);
        }
        for (size_t i = 0; i < router.size(); ++i) {
          rotators[i]->finish();
          const RotatorStats r = rotators[i]->stats();
          if (r.rotations > 0 || r.reopens > 0 || r.compressed > 0 || r.deleted > 0) {
            spdlog::info(
                "rotated {} {} times, reopened it {} times; {} rotated files compressed, {} deleted by retention",
                escaped(router.sink(i).path()), r.rotations, r.reopens, r.compressed, r.deleted);
          }
        }
        return cli::kExitOk;
      },
      apps::programCatalog);
}
