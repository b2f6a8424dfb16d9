#pragma once
// What the programs run, checked and translated from their settings (programs.hpp) before anything
// starts: every flag check of log_producer and log_aggregator is here, so that main() only wires
// the parts together and the checks are unit-tested (tests/unit/cli_test.cpp, ProgramPlans.*).
// Each function throws UsageError naming the flag.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/file_sink.hpp"
#include "aggregator/rotation.hpp"
#include "aggregator/route.hpp"
#include "aggregator/stream_offset.hpp"
#include "cli/config.hpp"
#include "core/record.hpp"
#include "producer/input/file_input.hpp"
#include "producer/input/multiline.hpp"
#include "programs.hpp"

namespace logship::apps {

// A flag's seconds (--confirm-timeout 2.5) as a duration.
inline std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

struct ProducerPlan {
  Record recordTemplate;                   // --level, --service, --host, --field
  ShipperOptions ship;                     // the settings' with the timeouts and the spool limits
  bool sendsMessage = false;               // MESSAGE arguments were given: send `message`, read no input
  std::string message;                     // the MESSAGE arguments joined by spaces
  MultilineOptions multiline;              // stdin and --follow alike
  SyslogOptions syslog;                    // with maxMessageBytes
  std::optional<FileInputOptions> follow;  // --follow (its state file, multiline and line limit filled in)
  int waitReplicas = 0;                    // applyWaitReplicas, once the broker is resolved
  std::chrono::milliseconds waitTimeout{0};
};

// `app` is the one `s` was defined on; `config` the configuration cli::run gave: a spool, follow or
// multiline setting without the flag it needs is an error on the command line, but not in a host's
// configuration file, whose [log_producer] table also serves producers run without them.
ProducerPlan planProducer(const CLI::App& app, const ProducerSettings& s, const cli::Configuration& config);

struct AggregatorPlan {
  CollectorOptions collector;  // with the format, --idle-exit and --write-retry-seconds
  ConsumerOptions consumer;    // with the queue, the consumer id and the lease; `stream` is main's
  RotationOptions rotation;
  StreamStart streamStart;
  std::vector<RouteRule> routes;  // checked whole: syntax, one file each, not the default output
  OutputFileOptions file;         // --file-mode, --allow-symlink-output
  IdJournalOptions dedup;         // with the collector's fsync
};

AggregatorPlan planAggregator(const AggregatorSettings& s);

}  // namespace logship::apps
