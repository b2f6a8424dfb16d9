#include "programs.hpp"

#include <unistd.h>

#include "cli/metrics.hpp"

namespace logship::apps {

std::string localHostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "-";
  return host;
}

void defineProducer(CLI::App& app, ProducerSettings& s) {
  app.name("log_producer");
  app.description(
      "Ships log records to a message broker (RabbitMQ logs_queue) with publisher confirms.\n"
      "With MESSAGE arguments it sends them, joined by spaces, as one record; without, it reads\n"
      "records from standard input, one per line (empty lines are skipped), until end of input.\n"
      "With --follow it follows files instead (like tail -F, across rotations, resuming after a restart\n"
      "where the state file says), and with --syslog-udp or --syslog-tcp it receives syslog messages,\n"
      "until SIGINT/SIGTERM.");
  app.footer(
      "Examples:\n"
      "  log_producer \"Log Entry 1: This is a sample log.\"\n"
      "  tail -F /var/log/app.log | log_producer --service app --level info\n"
      "  LOGSHIP_PASSWORD=secret log_producer --broker amqp://logship@mq.example:5672/ < batch.log\n"
      "  log_producer --config /etc/logship/logship.toml < batch.log\n"
      "  my_service | log_producer --input-format json --service my_service\n"
      "  log_producer --syslog-udp 0.0.0.0:514 --syslog-tcp 0.0.0.0:514 --spool-dir /var/lib/logship/syslog\n"
      "  log_producer --follow '/var/log/app/*.log' --state-file /var/lib/logship/app.state --service app\n"
      "  log_producer --follow /var/log/app.log --state-file app.state --multiline-start "
      "'^[0-9]{4}-[0-9]{2}-[0-9]{2}'\n"
      "\n"
      "Exit status: 0 when the broker confirmed every record read, 1 otherwise (the reason is printed),\n"
      "2 for a bad flag, value, URL or configuration file.");
  s.host = localHostName();

  app.add_option("MESSAGE", s.words, "The record's message text (omit to read lines from stdin)");
  cli::addBrokerFlags(app, s.broker);
  cli::addQueueTypeFlags(app, s.broker);
  s.broker.reconnectSeconds = 300;
  cli::addReconnectFlag(app, s.broker);
  app.add_option("--level", s.level, "Record level: trace, debug, info, warn, error, fatal")->capture_default_str();
  app.add_option("--service", s.service, "Service (application) name of the records")->capture_default_str();
  app.add_option("--host", s.host, "Host name of the records (default: this machine's)")->capture_default_str();
  app.add_option("--field", s.fields, "Extra KEY=VALUE field on every record (repeat the flag for more)")
      ->allow_extra_args(false);
  app.add_option("--max-message-bytes", s.ship.maxMessageBytes,
                 "Refuse messages larger than this (suffixes K, M: 1024-based)")
      ->transform(cli::byteSize(1, uint64_t{64} << 20))
      ->type_name("SIZE")
      ->default_str("1M");
  app.add_option("--confirm-window", s.ship.confirmWindow, "Messages in flight awaiting broker confirms")
      ->check(cli::range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--confirm-timeout", s.confirmTimeout, "Seconds to wait for the broker's last confirms")
      ->check(cli::range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--wait-replicas", s.waitReplicas,
                 "Redis: count records as confirmed only once WAIT says this many replicas have them (so a "
                 "failover cannot lose them); 0 = once the master has them")
      ->check(cli::range(0, 64))
      ->capture_default_str();
  app.add_option("--wait-timeout", s.waitTimeout,
                 "Redis, with --wait-replicas: seconds WAIT waits for the replicas; fewer by then: sent again")
      ->check(cli::range(0.001, 3600.0))
      ->capture_default_str();
  app.add_option("--batch-records", s.ship.batchRecords,
                 "Records per broker message at most (1: one record per message, the tutorial's format)")
      ->check(cli::range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--batch-bytes", s.ship.batchBytes, "Text bytes per broker message at most (suffixes K, M)")
      ->transform(cli::byteSize(1, uint64_t{64} << 20))
      ->type_name("SIZE")
      ->default_str("256K");
  app.add_option("--compress", s.ship.zstdLevel,
                 "Compress each batch's body: none, zstd or zstd:LEVEL (1-19; zstd is level 1). Fewer bytes through "
                 "the broker; every Logship reader inflates it, plain AMQP/Redis clients see zstd data "
                 "(content_encoding zstd). Messages of one record are never compressed")
      ->transform(cli::compression())
      ->type_name("METHOD")
      ->default_str("none");
  app.add_option("--linger-ms", s.lingerMs, "How long a batch waits for more records before it is sent")
      ->check(cli::range(0, 60'000))
      ->capture_default_str();
  app.add_option("--spool-dir", s.ship.spoolDir,
                 "Keep every record on disk in DIR until the broker confirmed it: records are accepted while the "
                 "broker is down, and a restarted producer sends what an earlier run left (docs/RELIABILITY.md)")
      ->envname("LOGSHIP_SPOOL_DIR");
  app.add_option("--spool-max-bytes", s.spoolMaxBytes, "Size cap of the spool on disk (suffixes K, M, G: 1024-based)")
      ->transform(cli::byteSize(uint64_t{1} << 20, uint64_t{1} << 50))
      ->type_name("SIZE")
      ->default_str("1G");
  app.add_option("--spool-full", s.spoolFull,
                 "At the spool's cap: 'block' stops reading input until the broker catches up; 'drop' drops "
                 "records, counting them and warning")
      ->check(CLI::IsMember({"block", "drop"}))
      ->capture_default_str();
  app.add_option("--input-format", s.inputFormat,
                 "How a line of input (or the MESSAGE) becomes a record: text (the line is the message) or json (one "
                 "JSON object per line; message, level, time, service, host mapped, other keys kept as fields)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--syslog-udp", s.syslog.udp,
                 "Receive syslog messages (RFC 5424, RFC 3164) as UDP datagrams on HOST:PORT (0.0.0.0:514, [::]:514; "
                 "port 0 picks a free one and logs it); repeatable. Standard input is then not read: the producer runs "
                 "until SIGTERM or SIGINT")
      ->allow_extra_args(false)
      ->type_name("ADDR");
  app.add_option("--syslog-tcp", s.syslog.tcp,
                 "Receive syslog messages over TCP on HOST:PORT, octet-counted or one per line (RFC 6587); repeatable. "
                 "Standard input is then not read")
      ->allow_extra_args(false)
      ->type_name("ADDR");
  app.add_option("--syslog-max-connections", s.syslog.maxConnections,
                 "Open connections per --syslog-tcp address at most; at the cap a new connection is taken in and the "
                 "longest-idle one closed to make room")
      ->check(cli::range(size_t{1}, size_t{100'000}))
      ->capture_default_str();
  app.add_option("--syslog-idle-timeout", s.syslog.idleTimeoutSeconds,
                 "Close a --syslog-tcp connection that sent nothing for DURATION (what it sent is shipped first)")
      ->transform(cli::duration(std::chrono::seconds(1), std::chrono::seconds(7 * 86'400)))
      ->type_name("DURATION")
      ->default_str("1h");
  app.add_flag("-q,--quiet", s.quiet, "Print nothing on success");
  cli::addMetricsFlag(app, s.metricsListen);

  app.add_option("--follow", s.follow,
                 "Follow these files (paths, or glob patterns in quotes, matched again as files appear) like tail -F "
                 "instead of reading stdin, until SIGINT/SIGTERM: across rotations (rename, copytruncate), resuming "
                 "after a restart where --state-file says")
      ->type_name("FILE_OR_GLOB");
  app.add_option("--state-file", s.stateFile,
                 "--follow: where the files' offsets are kept across runs (default with --spool-dir: "
                 "SPOOL_DIR/follow.state); one producer per state file")
      ->type_name("PATH");
  app.add_flag("--from-beginning", s.fromBeginning,
               "--follow: at the first start (no state file yet), read the files that exist from their beginning "
               "(default: from their end, as tail -F; files that appear later are always read whole)");
  app.add_option("--poll-interval", s.pollInterval,
                 "--follow: seconds between two looks at the files (new data, rotation, truncation, new files)")
      ->check(cli::range(0.01, 60.0))
      ->capture_default_str();
  app.add_option("--close-rotated-after", s.closeRotatedAfter,
                 "--follow: a file renamed away or deleted is read until it has not grown for this many seconds, "
                 "then its last unfinished line is shipped and it is closed")
      ->check(cli::range(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--multiline-start", s.multilineStart,
                 "Multiline records (stdin and files): a line matching this POSIX extended regular expression starts "
                 "a record, the lines up to the next one are appended to it")
      ->type_name("REGEX");
  app.add_flag("--multiline-indented", s.multilineIndented,
               "Multiline records: a line starting with a space or a tab (or with 'Caused by:') continues the "
               "record before it (Java and similar stack traces)");
  app.add_option("--multiline-max-lines", s.multilineMaxLines,
                 "Multiline records: at most this many lines per record; the next line starts a new record")
      ->check(cli::range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--multiline-timeout", s.multilineTimeout,
                 "Multiline records: ship a record once no line came for this many seconds")
      ->check(cli::range(0.01, 3600.0))
      ->capture_default_str();
}

void defineAggregator(CLI::App& app, AggregatorSettings& s) {
  app.name("log_aggregator");
  app.description(
      "Consumes log records from a message broker (RabbitMQ queue or Redis list logs_queue) and appends\n"
      "them to a file, one line per record. A record is acknowledged only after its line is written; run several\n"
      "aggregators on one queue to share the work.");
  app.footer(
      "Examples:\n"
      "  log_aggregator                                   # logs_queue on localhost -> ./aggregated_logs.txt\n"
      "  log_aggregator --output /var/log/all.log --format json --fsync\n"
      "  log_aggregator --prefetch 1                      # the tutorial's strict fair dispatch\n"
      "  log_aggregator --idle-exit 5                     # drain the queue, exit after 5 quiet seconds\n"
      "  log_aggregator --broker redis://localhost --password-file /etc/logship/redis.pw\n"
      "  log_aggregator --rotate-bytes 100M --rotate-interval 1d --keep 30   # zstd-compressed rotated files\n"
      "  log_aggregator --route 'level>=error:errors.log' --route 'service=api-*:api.log'   # copies by level, "
      "service\n"
      "  log_aggregator --config /etc/logship/logship.toml\n"
      "\n"
      "Routes: a record goes to the file of every --route whose conditions it matches, and to --output (with\n"
      "--unrouted-only: to --output only when no route matched). Each file has its own duplicate journal and\n"
      "rotation; a delivery is acknowledged once its records are in every file they go to.\n"
      "SIGHUP: reopens the output paths (after logrotate renamed the files; no copytruncate needed).\n"
      "SIGINT/SIGTERM: stops consuming, acks what was written, leaves the rest to the broker, exits 0\n"
      "(1 if it was holding records it could not write: they go back to the queue).\n"
      "Output write errors (disk full, file too large, I/O error): nothing unwritten is acknowledged; the\n"
      "aggregator holds the records, retries with backoff (0.5 s doubling to 30 s) and resumes once it can write.\n"
      "Poison messages: a record delivered --max-deliveries times without being written (its aggregator crashed\n"
      "or lost its connection each time) goes to the dead-letter queue instead of being redelivered forever.");

  cli::addBrokerFlags(app, s.broker);
  cli::addQueueTypeFlags(app, s.broker);
  s.broker.reconnectSeconds = 31536000;  // a year: until stopped
  cli::addReconnectFlag(app, s.broker);
  app.add_option("-o,--output", s.output, "File to append records to")->capture_default_str();
  app.add_option("--format", s.format, "Output format: text, raw (message only) or json (JSON lines), for every file")
      ->check(CLI::IsMember({"text", "raw", "json"}))
      ->capture_default_str();
  app.add_option("--route", s.routes,
                 "Also write the records matching CONDITIONS to FILE: CONDITIONS:FILE, the conditions comma-separated, "
                 "all must hold: level OP LEVEL (OP: = != >= > <= <), service=NAME, service!=NAME, host=NAME, "
                 "host!=NAME (NAME may be a glob: api-*). Repeat for more routes, one file each")
      ->type_name("RULE")
      ->allow_extra_args(false);
  app.add_flag("--unrouted-only", s.unroutedOnly,
               "The --output file gets only the records no --route matched (a split instead of copies)");
  app.add_option("--prefetch", s.consumer.prefetch,
                 "Unacknowledged deliveries the broker may send ahead (1 = strict fair dispatch)")
      ->check(cli::range(1, 65535))
      ->capture_default_str();
  app.add_option("--shard-ids", s.consumer.shardIds,
                 "With --shards N: consume only these shards (comma-separated ids from 0 to N-1; default all), e.g. "
                 "two aggregators with --shard-ids 0,1 and 2,3")
      ->delimiter(',')
      ->type_name("IDS");
  s.consumerIdOption = app.add_option("--consumer-id", s.consumer.consumerId,
                                      "Redis: this aggregator's stable name; its processing list is "
                                      "<queue>.processing.<ID> (default: <host>:<absolute output path>)");
  app.add_option("--lease-seconds", s.leaseSeconds,
                 "Redis: an aggregator silent this long counts as dead and its unfinished records are put back")
      ->check(cli::range(1.0, 86400.0))
      ->capture_default_str();
  app.add_flag("--fsync", s.collector.fsync, "fdatasync the output files before acknowledging (survives power loss)");
  app.add_option("--idle-exit", s.idleExit, "Exit 0 once no delivery arrived for this many seconds (0 = never)")
      ->check(cli::range(0.0, 31536000.0))
      ->capture_default_str();
  s.writeRetryOption = app.add_option(
      "--write-retry-seconds", s.writeRetrySeconds,
      "Keep retrying an unwritable output this long, then exit 1 (default: forever; 0: fail at the first error)");
  s.writeRetryOption->check(cli::range(0.0, 31536000.0));
  app.add_option("--dedup-window", s.dedup.window,
                 "Remember the ids of this many recent records per output file (journal FILE.ids beside each) and do "
                 "not write a record again to a file it was written to (0 = no deduplication, no journal)")
      ->check(cli::range(size_t{0}, size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--max-deliveries", s.collector.maxDeliveries,
                 "Dead-letter a record once this many of its deliveries ended without its being written (the "
                 "aggregator holding it crashed or lost its connection); 0 = no limit")
      ->check(cli::range(uint32_t{0}, uint32_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--management-url", s.managementUrl,
                 "RabbitMQ management API, where the delivery limit of a quorum queue is read (it lowers "
                 "--max-deliveries), http[s]://HOST[:PORT][/PREFIX], or 'off' (env LOGSHIP_MANAGEMENT_URL; default: "
                 "the broker's host, port 15672, or https and 15671 for amqps://)")
      ->envname("LOGSHIP_MANAGEMENT_URL");
  app.add_option("--max-message-bytes", s.collector.maxMessageBytes,
                 "Dead-letter deliveries larger than this instead of writing them (suffixes K, M: 1024-based)")
      ->transform(cli::byteSize(1, uint64_t{512} << 20))
      ->type_name("SIZE")
      ->default_str("1M");
  cli::addMetricsFlag(app, s.metricsListen);
  app.add_option("--file-mode", s.fileMode,
                 "Permissions (octal) of the output, route and journal files the aggregator creates (the umask "
                 "still applies; existing files keep theirs; rotated files keep their file's)")
      ->check([](const std::string& v) {
        const bool ok =
            (v.size() == 3 || (v.size() == 4 && v[0] == '0')) && v.find_first_not_of("01234567") == std::string::npos;
        return ok ? std::string() : std::string("an octal mode such as 0640 or 600 (no setuid, setgid or sticky bit)");
      })
      ->type_name("MODE")
      ->capture_default_str();
  app.add_flag("--allow-symlink-output", s.allowSymlinkOutput,
               "Write to the file a symbolic link at --output or a --route file points to (refused by default)");

  constexpr int64_t kYear = 366 * 86'400;
  app.add_option("--rotate-bytes", s.rotateBytes,
                 "Rotate each output file before a write would take it past SIZE (suffixes K, M, G: 1024-based)")
      ->transform(cli::byteSize(uint64_t{1} << 10, uint64_t{1} << 50))
      ->type_name("SIZE");
  app.add_option("--rotate-interval", s.rotateIntervalSeconds,
                 "Rotate each output file at every multiple of DURATION since the epoch, in UTC (1h: on the hour; 1d: "
                 "at midnight UTC)")
      ->transform(cli::duration(std::chrono::seconds(1), std::chrono::seconds(kYear)))
      ->type_name("DURATION");
  s.compressOption = app.add_option("--compress", s.compress, "Compress rotated files: zstd or none")
                         ->check(CLI::IsMember({"zstd", "none"}))
                         ->capture_default_str();
  s.keepOption = app.add_option("--keep", s.keep, "Keep the N newest rotated files, delete older ones")
                     ->check(cli::range(int64_t{1}, int64_t{1'000'000}))
                     ->type_name("N");
  s.maxAgeOption =
      app.add_option("--max-age", s.maxAgeSeconds, "Delete rotated files once DURATION has passed since their rotation")
          ->transform(cli::duration(std::chrono::seconds(1), std::chrono::seconds(100 * kYear)))
          ->type_name("DURATION");
  app.add_option("--stream-from", s.streamFrom,
                 "RabbitMQ stream: where an aggregator without a saved place (OUTPUT.offset) starts: first, last, "
                 "next, an offset, or a time (2026-12-06T08:00:00Z); later starts resume after the last record "
                 "written")
      ->type_name("WHERE")
      ->capture_default_str();
}

namespace {
// --level, --service and --host: the same for logctl tail and logctl search.
void addRecordFilters(CLI::App& app, std::string& level, std::vector<std::string>& services,
                      std::vector<std::string>& hosts) {
  app.add_option("--level", level, "This level or above: trace, debug, info, warn, error, fatal")->type_name("LEVEL");
  app.add_option("--service", services, "Records of this service (repeat for any of several)")->type_name("NAME");
  app.add_option("--host", hosts,
                 "Records from this host; a glob (fnmatch: * ? [...]) matches several (repeat for any of several)")
      ->type_name("NAME");
}
}  // namespace

namespace {
// --management-url: the same for logctl status and logctl serve.
void addManagementFlag(CLI::App& app, std::string& url) {
  app.add_option("--management-url", url,
                 "RabbitMQ management API, http[s]://HOST[:PORT][/PREFIX], or 'off' for AMQP only (env "
                 "LOGSHIP_MANAGEMENT_URL; default: the broker's host, port 15672, or https and 15671 for amqps://)")
      ->envname("LOGSHIP_MANAGEMENT_URL");
}

void defineServe(CLI::App& app, LogctlSettings& s) {
  auto* serve = app.add_subcommand(
      "serve",
      "Serve the web console: live tail, search with a histogram and facets, queues and dead letters, pipeline "
      "health (docs/CONSOLE.md)");
  serve->footer(
      "Examples:\n"
      "  logctl serve --files '/var/log/logship/aggregated_logs.txt*'   # http://127.0.0.1:8080/\n"
      "  logctl serve --listen 0.0.0.0:8080 --token-file /etc/logship/console.token --files 'out/*.log*' \\\n"
      "      --metrics-target http://127.0.0.1:9464 --metrics-target http://127.0.0.1:9465");
  s.serveCommand = serve;
  cli::addBrokerFlags(*serve, s.serveFlags);
  addManagementFlag(*serve, s.serveManagementUrl);
  serve
      ->add_option("--listen", s.serve.listen,
                   "HOST:PORT to serve on (port 0 picks a free one); a non-loopback HOST needs --token-file")
      ->type_name("ADDR")
      ->capture_default_str();
  serve
      ->add_option("--files", s.serve.files,
                   "Aggregated output files to search (globs in quotes, matched again on every search; rotated and "
                   ".zst files included)")
      ->type_name("GLOB")
      ->allow_extra_args(true);
  serve
      ->add_option("--metrics-target", s.serve.metricsTargets,
                   "A producer's or aggregator's --metrics-listen, http://HOST:PORT (repeat for more): the pipeline "
                   "page")
      ->type_name("URL");
  serve
      ->add_option("--token-file", s.serve.tokenFile,
                   "File whose first line is the token every request must carry (Authorization: Bearer, or the "
                   "cookie the page's login sets)")
      ->type_name("FILE");
}
}  // namespace

void defineLogctl(CLI::App& app, LogctlSettings& s) {
  app.name("logctl");
  app.description("Sets up, inspects and searches a Logship deployment.");
  // Each subcommand gets its own examples (a CLI11 subcommand inherits the footer of its parent).
  app.footer(
      "Examples:\n"
      "  logctl setup                       # declare logs_queue, its exchange logs and logs_queue.dead\n"
      "  logctl status                      # depth, consumers, rates and dead letters of logs_queue\n"
      "  logctl dead list                   # the dead letters of logs_queue, one line each\n"
      "  logctl status --config /etc/logship/logship.toml --print-config\n"
      "logctl SUBCOMMAND --help shows the flags and examples of that subcommand.");
  app.require_subcommand(0, 1);  // "none" is reported by the program, after unknown words are

  s.setup = app.add_subcommand(
      "setup", "Declare the durable queue, its topic exchange and binding, and its dead-letter queue (idempotent)");
  s.setup->footer(
      "Examples:\n"
      "  logctl setup                       # declare logs_queue, its exchange logs and logs_queue.dead (idempotent)\n"
      "  logctl setup --queue app --broker amqp://admin@mq.example/   # password from LOGSHIP_PASSWORD");
  cli::addBrokerFlags(*s.setup, s.setupFlags);
  cli::addQueueTypeFlags(*s.setup, s.setupFlags);
  s.status = app.add_subcommand(
      "status",
      "Show ready and unacked messages, consumers, rates and dead letters of the queue (Redis: also the "
      "processing lists with their owners and leases)");
  s.status->footer(
      "Examples:\n"
      "  logctl status                      # depth, consumers, rates and dead letters of logs_queue\n"
      "  logctl status --json --queue app   # the same for queue 'app', for scripts\n"
      "  logctl status --broker redis://localhost   # also the processing lists, their owners and leases");
  cli::addBrokerFlags(*s.status, s.statusFlags);
  s.status->add_flag("--json", s.statusJson, "Print JSON instead of a table");
  addManagementFlag(*s.status, s.managementUrl);
  s.recover = app.add_subcommand(
      "recover", "Redis: put the unfinished records of dead aggregators (lease expired) back in the queue now");
  s.recover->footer(
      "Examples:\n"
      "  logctl recover --broker redis://localhost   # put back records of dead Redis consumers");
  cli::addBrokerFlags(*s.recover, s.recoverFlags);

  auto* tail = app.add_subcommand(
      "tail",
      "Print the records sent to the queue from now on, live, in the aggregator's output formats, until "
      "Ctrl-C; the aggregators still get every one of them");
  tail->footer(
      "Examples:\n"
      "  logctl tail --level error --service api      # error and fatal records of api, live, until Ctrl-C\n"
      "  logctl tail -n 10 --format json              # the next 10 records as JSON lines");
  s.tailCommand = tail;
  cli::addBrokerFlags(*tail, s.tailFlags);
  s.tailFlags.reconnectSeconds = 60;
  cli::addReconnectFlag(*tail, s.tailFlags);
  addRecordFilters(*tail, s.tail.level, s.tail.services, s.tail.hosts);
  tail->add_option("-n", s.tail.count, "Exit after printing N records (default: until Ctrl-C)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  tail->add_option("--format", s.tail.format, "Output format: text, json or raw (as log_aggregator --format)")
      ->capture_default_str();
  tail->add_option("--backlog", s.tail.backlog,
                   "RabbitMQ: messages the broker keeps for this tail when it falls behind (then it drops the "
                   "oldest; at most 16 MB)")
      ->check(cli::range(uint32_t{1}, uint32_t{1'000'000}))
      ->capture_default_str();

  auto* dead =
      app.add_subcommand("dead",
                         "Dead letters of the queue (NAME.dead): list them, show one, move them back to the queue "
                         "(requeue), or delete them (purge --yes)");
  s.deadCommand = dead;
  dead->footer(
      "Examples:\n"
      "  logctl dead list                   # the dead letters of logs_queue, one line each\n"
      "  logctl dead show 1                 # headers and body of the oldest\n"
      "  logctl dead requeue --reason 'delivered *'  # move poison records back to logs_queue\n"
      "  logctl dead purge --yes            # delete every dead letter of logs_queue");
  cli::addBrokerFlags(*dead, s.deadFlags);
  dead->add_option("ACTION", s.dead.action, "list, show, requeue or purge")->type_name("ACTION");
  dead->add_option("N", s.dead.position, "The dead letter at position N (1 = the oldest; as list numbers them)")
      ->check(cli::range(uint64_t{1}, uint64_t{1} << 40));
  dead->add_option("--id", s.dead.id, "The dead letter of this record id (logship-id)")->type_name("ID");
  dead->add_option("--reason", s.dead.reason,
                   "requeue, list, show: dead letters whose reason matches this glob ('delivered *', '*too large*')")
      ->type_name("GLOB");
  dead->add_option("--limit", s.dead.limit, "list: at most N (default 100); requeue: at most N (default all)")
      ->type_name("N")
      ->check(cli::range(uint64_t{1}, uint64_t{1} << 40));
  dead->add_flag("--json", s.dead.json, "list, show: print JSON");
  dead->add_flag("--yes", s.dead.yes, "purge: really delete every dead letter");

  auto* search = app.add_subcommand(
      "search",
      "Print the records of aggregated files (text, json or raw; plain or .zst) that match every condition "
      "given. Exit 0 if some matched, 1 if none, 2 on errors");
  search->footer(
      "Examples:\n"
      "  logctl search aggregated_logs.txt* --level warn --since 1h --grep 'timeout|refused'\n"
      "  logctl search errors.log.*.zst --service api --until 2026-11-24 --json");
  s.searchCommand = search;
  // FILE is checked by ctl::search (not ->required(), so that `logctl search --print-config` works).
  search->add_option("FILE", s.search.files, "Files to scan (plain or zstd-compressed; - is standard input)");
  search
      ->add_option("--since", s.search.since,
                   "Records at or after T: RFC 3339 (2026-11-24T08:00:00Z, +01:00 offsets, a date alone) or a "
                   "duration before now (90s, 15m, 2h, 7d, 1w)")
      ->type_name("T");
  search->add_option("--until", s.search.until, "Records before T (same forms as --since)")->type_name("T");
  addRecordFilters(*search, s.search.level, s.search.services, s.search.hosts);
  search
      ->add_option("--grep", s.search.grep,
                   "Lines matching this POSIX extended regular expression (as grep -E), on the line as written")
      ->type_name("REGEX");
  search->add_option("--format", s.search.format, "Format of the files: auto (detected per file), text, json, raw")
      ->capture_default_str();
  search->add_flag("--json", s.search.json, "Print one JSON object per matching record instead of the lines");
  defineServe(app, s);
}

cli::ProgramCatalog programCatalog() {
  cli::ProgramCatalog catalog;
  {
    CLI::App app;
    ProducerSettings s;
    defineProducer(app, s);
    catalog.add(app);
  }
  {
    CLI::App app;
    AggregatorSettings s;
    defineAggregator(app, s);
    catalog.add(app);
  }
  {
    CLI::App app;
    LogctlSettings s;
    defineLogctl(app, s);
    catalog.add(app);
  }
  return catalog;
}

}  // namespace logship::apps
