#pragma once
// The command lines of the three programs, defined once here so that every program knows every
// program's settings: a host-wide configuration file (--config) holds keys for all of them, and
// each program checks the whole file against this catalog (src/cli/config.hpp).
#include <cstddef>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "aggregator/collector.hpp"
#include "aggregator/id_journal.hpp"
#include "broker/options.hpp"
#include "cli/common.hpp"
#include "cli/config.hpp"
#include "ctl/commands.hpp"
#include "producer/input/syslog_input.hpp"
#include "producer/shipper.hpp"

namespace logship::apps {

struct ProducerSettings {
  std::vector<std::string> words;  // MESSAGE...
  cli::BrokerFlags broker;
  std::string level = "info";
  std::string service = "-";
  std::string host;  // this machine's host name unless --host
  std::vector<std::string> fields;
  ShipperOptions ship;
  double confirmTimeout = 30;
  int waitReplicas = 0;    // --wait-replicas (Redis)
  double waitTimeout = 5;  // --wait-timeout, seconds
  bool quiet = false;
  size_t spoolMaxBytes = size_t{1} << 30;
  std::string spoolFull = "block";
  int lingerMs = 5;
  std::string metricsListen;
  std::string inputFormat = "text";  // --input-format
  SyslogOptions syslog;              // --syslog-udp, --syslog-tcp, --syslog-max-connections, --syslog-idle-timeout
  // Following files (--follow, producer/input/file_input.hpp) and multiline records (stdin and files).
  std::vector<std::string> follow;
  std::string stateFile;
  bool fromBeginning = false;
  double pollInterval = 0.25;
  double closeRotatedAfter = 5;
  std::string multilineStart;
  bool multilineIndented = false;
  size_t multilineMaxLines = 500;
  double multilineTimeout = 1;
};
void defineProducer(CLI::App& app, ProducerSettings& s);

struct AggregatorSettings {
  cli::BrokerFlags broker;
  std::string output = "aggregated_logs.txt";
  std::string format = "text";
  std::vector<std::string> routes;  // --route CONDITIONS:FILE (aggregator/route.hpp)
  bool unroutedOnly = false;
  ConsumerOptions consumer;
  CollectorOptions collector;
  double idleExit = 0;
  double leaseSeconds = 30;
  double writeRetrySeconds = -1;
  IdJournalOptions dedup;
  CLI::Option* consumerIdOption = nullptr;
  CLI::Option* writeRetryOption = nullptr;
  std::string metricsListen;
  // Files created (outputs, route files, journals; rotated files keep their file's mode).
  std::string fileMode = "0640";  // octal
  bool allowSymlinkOutput = false;
  // Rotation (aggregator/rotation.hpp).
  std::string compress = "zstd";
  uint64_t rotateBytes = 0;
  int64_t rotateIntervalSeconds = 0;
  int64_t keep = 0;
  int64_t maxAgeSeconds = 0;
  CLI::Option* compressOption = nullptr;
  CLI::Option* keepOption = nullptr;
  CLI::Option* maxAgeOption = nullptr;
  std::string managementUrl;         // --management-url: a quorum queue's delivery limit ("" derived, "off")
  std::string streamFrom = "first";  // --stream-from (aggregator/stream_offset.hpp parseStreamStart)
};
void defineAggregator(CLI::App& app, AggregatorSettings& s);

struct LogctlSettings {
  // One set of flags per subcommand: CLI11 applies LOGSHIP_BROKER to every subcommand's options,
  // parsed or not, so shared variables would let an unused subcommand overwrite --broker.
  cli::BrokerFlags setupFlags, statusFlags, recoverFlags, tailFlags, deadFlags, serveFlags;
  bool statusJson = false;
  std::string managementUrl;
  ctl::SearchRequest search;
  ctl::TailRequest tail;
  ctl::DeadRequest dead;
  ctl::ServeRequest serve;
  std::string serveManagementUrl;  // logctl serve --management-url (the queues page)
  CLI::App* deadCommand = nullptr;
  CLI::App* serveCommand = nullptr;
  CLI::App* setup = nullptr;
  CLI::App* status = nullptr;
  CLI::App* recover = nullptr;
  CLI::App* searchCommand = nullptr;
  CLI::App* tailCommand = nullptr;
};
void defineLogctl(CLI::App& app, LogctlSettings& s);

// This machine's host name (log_producer --host's default), "-" when unknown.
std::string localHostName();

// Every program's settings, for checking a configuration file (built when one is loaded).
cli::ProgramCatalog programCatalog();

}  // namespace logship::apps
