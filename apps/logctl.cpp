// logctl: sets up, inspects and searches a Logship deployment. Flags and wiring only: see
// ctl/commands.hpp.
#include "cli/common.hpp"
#include "core/error.hpp"
#include "ctl/commands.hpp"

using namespace logship;

int main(int argc, char** argv) {
  CLI::App app{"Sets up, inspects and searches a Logship deployment.", "logctl"};
  app.footer(
      "Examples:\n"
      "  logctl setup                       # declare logs_queue, its exchange logs and logs_queue.dead (idempotent)\n"
      "  logctl status                      # depth, consumers, rates and dead letters of logs_queue\n"
      "  logctl status --json --queue app   # the same for queue 'app', for scripts\n"
      "  logctl recover --broker redis://localhost   # put back records of dead Redis consumers\n"
      "  logctl tail --level error --service api      # error and fatal records of api, live, until Ctrl-C\n"
      "  logctl search aggregated_logs.txt* --level warn --since 1h --grep 'timeout|refused'");
  app.require_subcommand(0, 1);  // "none" is reported below, after unknown words are
  // One set of flags per subcommand: CLI11 applies LOGSHIP_BROKER to every subcommand's options,
  // parsed or not, so shared variables would let an unused subcommand overwrite --broker.
  cli::BrokerFlags setupFlags, statusFlags, recoverFlags, tailFlags;
  bool statusJson = false;
  std::string managementUrl;

  auto* setup = app.add_subcommand(
      "setup", "Declare the durable queue, its topic exchange and binding, and its dead-letter queue (idempotent)");
  cli::addBrokerFlags(*setup, setupFlags);
  auto* status = app.add_subcommand(
      "status", "Show ready and unacked messages, consumers, rates and dead letters of the queue (Redis: also the "
                "processing lists with their owners and leases)");
  cli::addBrokerFlags(*status, statusFlags);
  status->add_flag("--json", statusJson, "Print JSON instead of a table");
  status
      ->add_option("--management-url", managementUrl,
                   "RabbitMQ management API, http[s]://HOST[:PORT][/PREFIX], or 'off' for AMQP only (env "
                   "LOGSHIP_MANAGEMENT_URL; default: the broker's host, port 15672, or https and 15671 for amqps://)")
      ->envname("LOGSHIP_MANAGEMENT_URL");
  auto* recover = app.add_subcommand(
      "recover", "Redis: put the unfinished records of dead aggregators (lease expired) back in the queue now");
  cli::addBrokerFlags(*recover, recoverFlags);

  ctl::TailRequest tailRequest;
  auto* tail = app.add_subcommand(
      "tail", "Print the records sent to the queue from now on, live, in the aggregator's output formats, until "
              "Ctrl-C; the aggregators still get every one of them");
  cli::addBrokerFlags(*tail, tailFlags);
  tailFlags.reconnectSeconds = 60;
  cli::addReconnectFlag(*tail, tailFlags);
  tail->add_option("--level", tailRequest.level, "This level or above: trace, debug, info, warn, error, fatal")
      ->type_name("LEVEL");
  tail->add_option("--service", tailRequest.services, "Records of this service (repeat for any of several)")
      ->type_name("NAME");
  tail->add_option("-n", tailRequest.count, "Exit after printing N records (default: until Ctrl-C)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  tail->add_option("--format", tailRequest.format, "Output format: text, json or raw (as log_aggregator --format)")
      ->capture_default_str();
  tail->add_option("--backlog", tailRequest.backlog,
                   "RabbitMQ: messages the broker keeps for this tail when it falls behind (then it drops the "
                   "oldest; at most 16 MB)")
      ->check(CLI::Range(uint32_t{1}, uint32_t{1'000'000}))
      ->capture_default_str();

  ctl::SearchRequest searchRequest;
  auto* search = app.add_subcommand(
      "search", "Print the records of aggregated files (text, json or raw; plain or .zst) that match every condition "
                "given. Exit 0 if some matched, 1 if none, 2 on errors");
  search->add_option("FILE", searchRequest.files, "Files to scan (plain or zstd-compressed; - is standard input)")
      ->required();
  search->add_option("--since", searchRequest.since,
                     "Records at or after T: RFC 3339 (2026-11-24T08:00:00Z, +01:00 offsets, a date alone) or a "
                     "duration before now (90s, 15m, 2h, 7d, 1w)")
      ->type_name("T");
  search->add_option("--until", searchRequest.until, "Records before T (same forms as --since)")->type_name("T");
  search->add_option("--level", searchRequest.level, "This level or above: trace, debug, info, warn, error, fatal")
      ->type_name("LEVEL");
  search->add_option("--service", searchRequest.services, "Records of this service (repeat for any of several)")
      ->type_name("NAME");
  search->add_option("--grep", searchRequest.grep,
                     "Lines matching this POSIX extended regular expression (as grep -E), on the line as written")
      ->type_name("REGEX");
  search->add_option("--format", searchRequest.format, "Format of the files: auto (detected per file), text, json, raw")
      ->capture_default_str();
  search->add_flag("--json", searchRequest.json, "Print one JSON object per matching record instead of the lines");

  return cli::run(app, argc, argv, [&]() -> int {
    if (!setup->parsed() && !status->parsed() && !recover->parsed() && !search->parsed() && !tail->parsed()) {
      throw UsageError("a subcommand is required: setup, status, recover, tail or search");
    }
    if (search->parsed()) return ctl::search(searchRequest);
    if (tail->parsed()) {
      BrokerOptions broker = cli::resolveBroker(tailFlags, "logctl");
      cli::installStopSignals();
      return ctl::tail(broker, tailFlags.queue, tailRequest);
    }
    const cli::BrokerFlags& brokerFlags = setup->parsed() ? setupFlags : recover->parsed() ? recoverFlags : statusFlags;
    BrokerOptions broker = cli::resolveBroker(brokerFlags, "logctl");
    if (setup->parsed()) return ctl::setup(broker, brokerFlags.queue);
    if (recover->parsed()) return ctl::recover(broker, brokerFlags.queue);
    broker.management = cli::resolveManagement(managementUrl, broker, statusFlags.requireTls);
    return ctl::status(broker, brokerFlags.queue, statusJson);
  });
}
