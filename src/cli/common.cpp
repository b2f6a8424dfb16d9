#include "cli/common.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "broker/amqp/management.hpp"
#include "broker/resolve.hpp"
#include "core/compress.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/progress_line.hpp"
#include "core/secret.hpp"
#include "core/units.hpp"

namespace logship::cli {
namespace {

std::atomic<bool> gStop{false};
std::atomic<bool> gReopen{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from signal handlers");

extern "C" void onStopSignal(int) { gStop.store(true); }
extern "C" void onReopenSignal(int) { gReopen.store(true); }

std::chrono::milliseconds seconds(double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0)); }

// stderr (colored on a terminal), clearing a progress line first (core/progress_line.hpp).
using StderrSink = spdlog::sinks::ansicolor_stderr_sink_mt;
class LogSink final : public StderrSink {
 public:
  void log(const spdlog::details::log_msg& msg) override {
    ProgressLine::writeOver([&] { StderrSink::log(msg); });
  }
};

// Prints "PROGRAM: error: MESSAGE[ (see --help)]" with every URL's password in it hidden: a
// message may quote the command line (CLI11's "not expected: redis://:PASSWORD@...") or a file.
void printError(const std::string& program, std::string_view message, bool seeHelp) {
  fmt::print(stderr, "{}: error: {}{}\n", program, redactUrlPasswords(message), seeHelp ? " (see --help)" : "");
}

// A password inside a --broker URL on the command line is readable by every user of the machine
// (ps, /proc/PID/cmdline): say so once, when the URLs were found valid (a bad one is an error of
// its own). RabbitMQ's well-known guest:guest hides nothing. `url`: the command line's --broker
// values, joined.
void warnOfPasswordOnCommandLine(std::string url) {
  static bool warned = false;
  for (size_t at = url.find("://guest:guest@"); at != std::string::npos; at = url.find("://guest:guest@")) {
    url.erase(at, 15);
  }
  if (!warned && holdsUrlPassword(url)) {
    warned = true;
    spdlog::warn(
        "the --broker URL on the command line holds a password, which every user of this machine can "
        "read (ps): give it with --password-file FILE or the environment variable LOGSHIP_PASSWORD instead");
  }
}

}  // namespace

void addBrokerFlags(CLI::App& app, BrokerFlags& flags) {
  flags.urlOption =
      app.add_option(
             "--broker", flags.url,
             "Broker URL: amqp://USER:PASSWORD@HOST:PORT/VHOST, redis://:PASSWORD@HOST:PORT/DB or "
             "redis-sentinel://HOST:PORT/MASTER_NAME[/DB] (one per sentinel; their password in "
             "LOGSHIP_SENTINEL_PASSWORD); several URLs separated by commas are tried in turn (env LOGSHIP_BROKER; "
             "default amqp://guest:guest@localhost:5672/)")
          ->envname("LOGSHIP_BROKER")
          // A list: --broker A,B and --broker A --broker B are the same, and so is broker = [A, B] in a
          // configuration file. The URLs are split again by resolveBroker().
          ->delimiter(',')
          ->multi_option_policy(CLI::MultiOptionPolicy::Join);
  flags.passwordFileOption =
      app.add_option("--password-file", flags.passwordFile,
                     "Read the broker password from this file (or set env LOGSHIP_PASSWORD); overrides the URL's")
          ->check(CLI::ExistingFile);
  app.add_option("--queue", flags.queue, "Queue name")->capture_default_str();
  app.add_option("--shards", flags.shards,
                 "RabbitMQ: the queue is N queues QUEUE.shard.0 ... behind a consistent-hash exchange (plugin "
                 "rabbitmq_consistent_hash_exchange), records spread evenly over them; give the same N to every "
                 "program of the queue")
      ->check(range(uint32_t{1}, uint32_t{256}))
      ->type_name("N");
  app.add_option("--retry-seconds", flags.retrySeconds, "Keep retrying an unreachable broker this long before failing")
      ->check(range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--connect-timeout", flags.connectTimeoutSeconds, "Timeout of one connection attempt, in seconds")
      ->check(range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--tls-ca", flags.tlsCa,
                 "amqps://: PEM file of the CAs the broker's certificate must chain to (default: the system's)")
      ->envname("LOGSHIP_TLS_CA")
      ->type_name("FILE");
  app.add_option("--tls-cert", flags.tlsCert, "amqps://: PEM client certificate to present (with --tls-key)")
      ->envname("LOGSHIP_TLS_CERT")
      ->type_name("FILE");
  app.add_option("--tls-key", flags.tlsKey, "amqps://: unencrypted PEM private key of --tls-cert")
      ->envname("LOGSHIP_TLS_KEY")
      ->type_name("FILE");
  app.add_flag("--require-tls", flags.requireTls, "Refuse broker URLs that are not amqps://")
      ->envname("LOGSHIP_REQUIRE_TLS");
}

void addQueueTypeFlags(CLI::App& app, BrokerFlags& flags) {
  app.add_option("--queue-type", flags.queueType,
                 "RabbitMQ: type of the queue when it must be declared: classic, quorum (replicated, leaders "
                 "balanced over the nodes) or stream; an existing queue is used as it is")
      ->capture_default_str();
  app.add_option("--stream-max-age", flags.streamMaxAge,
                 "With --queue-type stream: keep records this long, as RabbitMQ's x-max-age (7D, 12h; Y M D h m s)")
      ->type_name("AGE");
  app.add_option("--stream-max-bytes", flags.streamMaxBytes,
                 "With --queue-type stream: keep at most this many bytes (suffixes K, M, G, T: 1024-based)")
      ->transform(byteSize(1, UINT64_MAX))
      ->type_name("SIZE");
}

void validateQueueName(const std::string& queue) { logship::validateQueueName(queue); }

void addReconnectFlag(CLI::App& app, BrokerFlags& flags) {
  app.add_option("--reconnect-seconds", flags.reconnectSeconds,
                 "After a working connection broke, reconnect (trying every --broker URL) for this long; "
                 "0 = fail at once")
      ->check(range(0.0, 31536000.0))
      ->capture_default_str();
}

BrokerOptions resolveBroker(const BrokerFlags& flags, const std::string& clientName, const Configuration* config) {
  BrokerSettings settings;
  settings.urls = flags.url;
  // Command line > environment > configuration file, as for every setting.
  const char* env = std::getenv("LOGSHIP_PASSWORD");
  const bool envPassword = env != nullptr && *env != '\0';
  const bool fileFromConfig = config != nullptr && config->fromFile(flags.passwordFileOption);
  if (!flags.passwordFile.empty() && !(fileFromConfig && envPassword)) {
    settings.password = readPasswordFile(flags.passwordFile);
  } else if (envPassword) {
    settings.password = env;
  }
  if (const char* sentinel = std::getenv("LOGSHIP_SENTINEL_PASSWORD"); sentinel != nullptr && *sentinel != '\0') {
    settings.sentinelPassword = sentinel;
  }
  settings.queue = flags.queue;
  settings.shards = flags.shards;
  settings.tls = TlsOptions{flags.tlsCa, flags.tlsCert, flags.tlsKey};
  settings.requireTls = flags.requireTls;
  settings.queueType = flags.queueType;
  settings.streamMaxAge = flags.streamMaxAge;
  settings.streamMaxBytes = flags.streamMaxBytes;
  BrokerOptions options = resolveBrokerSettings(settings);
  if (config != nullptr && config->fromCommandLine(flags.urlOption)) warnOfPasswordOnCommandLine(flags.url);
  options.reconnectFor = seconds(flags.reconnectSeconds);
  options.clientName = clientName;
  options.retryFor = seconds(flags.retrySeconds);
  options.connectTimeout = seconds(flags.connectTimeoutSeconds);
  options.stopRequested = &gStop;
  return options;
}

ManagementOptions resolveManagement(const std::string& url, const BrokerOptions& broker, bool requireTls) {
  if (broker.url.isRedis()) return {};  // RabbitMQ only (the variable may be set for both)
  ManagementOptions m;
  if (url == "off") return m;
  m.enabled = true;
  if (!url.empty()) amqp::parseManagementUrl(url);  // throws UsageError
  m.url = url;
  m.requireTls = requireTls;  // an http:// one is then skipped with a warning (it may come from the environment)
  return m;
}

const std::atomic<bool>& stopRequested() { return gStop; }

void installStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR so loops notice promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

std::atomic<bool>& reopenRequested() { return gReopen; }

void installReopenSignal() {
  struct sigaction sa {};
  sa.sa_handler = onReopenSignal;
  sigemptyset(&sa.sa_mask);
  // Unlike a stop, a reopen is not urgent: the collector looks at the flag between commits, at least
  // every poll interval, so no blocking call needs to be cut short by EINTR.
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
}

CLI::Validator byteSize(uint64_t min, uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        const auto bytes = parseByteSize(value);
        if (!bytes) return fmt::format("'{}' is not a size: give {}", escaped(value), kByteSizeSyntax);
        if (*bytes < min) return fmt::format("'{}' is too small: at least {}", escaped(value), formatByteSize(min));
        if (*bytes > max) return fmt::format("'{}' is too large: at most {}", escaped(value), formatByteSize(max));
        value = std::to_string(*bytes);
        return {};
      },
      "", "SIZE");
}

CLI::Validator compression() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const auto c = parseCompression(value);
        if (!c) return fmt::format("'{}' is not a compression: give {}", escaped(value), kCompressionSyntax);
        value = std::to_string(c->zstdLevel);
        return {};
      },
      "", "METHOD");
}

CLI::Validator duration(std::chrono::seconds min, std::chrono::seconds max) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        const auto d = parseDuration(value);
        if (!d) return fmt::format("'{}' is not a duration: give {}", escaped(value), kDurationSyntax);
        if (*d < min) return fmt::format("'{}' is too short: at least {}", escaped(value), formatDuration(min));
        if (*d > max) return fmt::format("'{}' is too long: at most {}", escaped(value), formatDuration(max));
        value = std::to_string(d->count());
        return {};
      },
      "", "DURATION");
}

std::string plainNumber(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

CLI::Validator numberRange(double min, double max, bool whole) {
  return CLI::Validator(
      [min, max, whole](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v)) {
          return fmt::format("'{}' is not {}", escaped(value), whole ? "a whole number" : "a number");
        }
        if (whole && v != std::floor(v)) return fmt::format("'{}' is not a whole number", escaped(value));
        if (v < min) return fmt::format("'{}' is too small: at least {}", escaped(value), plainNumber(min));
        if (v > max) return fmt::format("'{}' is too large: at most {}", escaped(value), plainNumber(max));
        return {};
      },
      fmt::format("{} in [{} - {}]", whole ? "INT" : "FLOAT", plainNumber(min), plainNumber(max)));
}

void showDefaultsPlainly(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const std::string& shown = option->get_default_str();
    if (shown.find_first_of("eE") == std::string::npos) continue;
    char* end = nullptr;
    const double v = std::strtod(shown.c_str(), &end);
    if (!shown.empty() && end == shown.c_str() + shown.size()) option->default_str(plainNumber(v));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) showDefaultsPlainly(*sub);
}

const char* version() { return LOGSHIP_VERSION; }

void completeDefinition(CLI::App& app) {
  app.set_version_flag("--version", fmt::format("{} (logship) {}", app.get_name(), version()));
  addConfigFlags(app);
  showDefaultsPlainly(app);
}

int run(CLI::App& app, int argc, char** argv, const std::function<int(const Configuration&)>& body,
        const std::function<ProgramCatalog()>& catalog) {
  const std::string program = app.get_name();
  auto logger = std::make_shared<spdlog::logger>(program, std::make_shared<LogSink>());
  spdlog::register_logger(logger);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + program + ": %v");
  spdlog::set_default_logger(logger);
  completeDefinition(app);
  Configuration config;
  try {
    config = configure(app, argc, argv, catalog);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    printError(program, e.what(), true);
    return kExitUsage;
  } catch (const ConfigError& e) {  // names the file, the line and the key: --help would not help
    printError(program, e.what(), false);
    return kExitUsage;
  } catch (const UsageError& e) {
    printError(program, e.what(), true);
    return kExitUsage;
  }
  if (config.printRequested()) {
    fmt::print("{}", config.toToml());
    return kExitOk;
  }
  try {
    return body(config);
  } catch (const UsageError& e) {
    if (const auto fileError = config.asFileError(e.what())) {
      printError(program, *fileError, false);
    } else {
      printError(program, e.what(), true);
    }
    return kExitUsage;
  } catch (const std::exception& e) {
    printError(program, e.what(), false);
    return kExitFailure;
  }
}

}  // namespace logship::cli
