#pragma once
// What the three executables share: broker flags, exit codes, error reporting, signals.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "broker/options.hpp"
#include "cli/config.hpp"

namespace logship::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the work failed (broker unreachable, records not confirmed, ...)
inline constexpr int kExitUsage = 2;    // bad flag, value or URL

struct BrokerFlags {
  std::string url;                                  // --broker / LOGSHIP_BROKER
  const CLI::Option* urlOption = nullptr;           // set by addBrokerFlags: was it on the command line?
  std::string passwordFile;                         // --password-file
  const CLI::Option* passwordFileOption = nullptr;  // set by addBrokerFlags: was it set by a configuration file?
  std::string queue = "logs_queue";
  uint32_t shards = 0;  // --shards (RabbitMQ): the queue is split into this many; 0 = not split
  double retrySeconds = 10;
  double connectTimeoutSeconds = 5;
  double reconnectSeconds = 0;  // set by the programs that reconnect, before addReconnectFlag
  std::string tlsCa;            // --tls-ca / LOGSHIP_TLS_CA
  std::string tlsCert;          // --tls-cert / LOGSHIP_TLS_CERT
  std::string tlsKey;           // --tls-key / LOGSHIP_TLS_KEY
  bool requireTls = false;      // --require-tls / LOGSHIP_REQUIRE_TLS
  // How a missing queue is declared (addQueueTypeFlags; BrokerSettings::queueType).
  std::string queueType = "classic";  // --queue-type
  std::string streamMaxAge;           // --stream-max-age
  uint64_t streamMaxBytes = 0;        // --stream-max-bytes
};

// Adds --broker, --password-file, --queue, --shards, --retry-seconds, --connect-timeout, and the TLS flags
// --tls-ca, --tls-cert, --tls-key, --require-tls.
void addBrokerFlags(CLI::App& app, BrokerFlags& flags);

// Adds --queue-type, --stream-max-age and --stream-max-bytes (the programs that declare queues:
// log_producer, log_aggregator, logctl setup). Checked by resolveBroker.
void addQueueTypeFlags(CLI::App& app, BrokerFlags& flags);

// Adds --reconnect-seconds (default: flags.reconnectSeconds).
void addReconnectFlag(CLI::App& app, BrokerFlags& flags);

// Resolves URLs (flag, then LOGSHIP_BROKER, then the default; comma-separated), password (--password-file, then
// LOGSHIP_PASSWORD, then password-file from a configuration file, then the URL) and validates the
// queue name and TLS flags (broker/resolve.hpp, shared with the client library), then applies the
// deadlines and the stop flag. Throws UsageError. `config` (what cli::run's body is given) tells
// whether --password-file came from a configuration file and --broker from the command line (which
// warns of a password in it); nullptr: neither.
// TLS: --require-tls refuses amqp:// and redis:// URLs; the TLS files need an amqps:// URL,
// --tls-cert and --tls-key go together, and each file must be readable.
BrokerOptions resolveBroker(const BrokerFlags& flags, const std::string& clientName,
                            const Configuration* config = nullptr);

// --management-url (logctl status, log_aggregator): "" = derive from the broker URL, "off" = do not use the API,
// else an http[s]:// URL (validated here). Throws UsageError. With --require-tls an http:// API
// is not used (status warns and falls back to AMQP).
// Ignored for a Redis broker (LOGSHIP_MANAGEMENT_URL may be set for a host that uses both).
ManagementOptions resolveManagement(const std::string& url, const BrokerOptions& broker, bool requireTls);

// Validates a queue name (1-250 bytes, no control characters, not amq.*): logship::validateQueueName
// (broker/resolve.hpp). Throws UsageError naming it.
void validateQueueName(const std::string& queue);

// Set by SIGINT / SIGTERM once installStopSignals() ran.
const std::atomic<bool>& stopRequested();
void installStopSignals();

// Set by SIGHUP once installReopenSignal() ran (log_aggregator: reopen the output). Whoever acts on
// it clears it (exchange(false)); the handler does nothing else.
std::atomic<bool>& reopenRequested();
void installReopenSignal();

// CLI11 transforms for sizes and durations (parsed by core/units.hpp, the one parser of every
// program): the option's text is replaced by the number (bytes; seconds), so the option binds to an
// integer. A value that does not parse or lies outside [min, max] is one error naming the flag
// ("--rotate-bytes: '0' is too small: at least 1 KiB"), exit 2. Give the option ->type_name("SIZE")
// or ("DURATION") for its help line.
CLI::Validator byteSize(uint64_t min, uint64_t max);
// The same for plain numbers, in the same words ("--prefetch: '0' is too small: at least 1"; "'2.5'
// is not a whole number"), for every numeric flag instead of CLI::Range (whose "Value 0 not in range
// 1 to 65535" was a second style). Integral bounds also require a whole number.
CLI::Validator numberRange(double min, double max, bool whole);
template <typename T>
CLI::Validator range(T min, T max) {
  return numberRange(static_cast<double>(min), static_cast<double>(max), std::is_integral_v<T>);
}
// A number as help and messages show it: 31536000, 0.1 (never 3.1536e+07).
std::string plainNumber(double value);
// Rewrites the shown defaults of `app`'s options and subcommands' options that are numbers in
// exponent form ("3.1536e+07", from CLI11's capture_default_str of a double) as plainNumber().
// run() calls it.
void showDefaultsPlainly(CLI::App& app);
CLI::Validator duration(std::chrono::seconds min, std::chrono::seconds max);
// --compress: none, zstd or zstd:LEVEL (core/compress.hpp); the text is replaced by the zstd level
// (0 for none), so the option binds to an int.
CLI::Validator compression();

// Logship's version (CMakeLists.txt's project version), as --version prints it.
const char* version();

// What every program adds to the options it defines, before parsing (run() calls it): --version,
// --config, --print-config, defaults shown plainly. The documentation generator calls it too, so the
// man pages and docs/CLI.md list exactly what --help lists.
void completeDefinition(CLI::App& app);

// Parses the command line, then the options' environment variables, then the configuration file
// (--config FILE or LOGSHIP_CONFIG, checked against `catalog()`: every program's settings; when
// empty, this program's only), see cli/config.hpp. Handles --help, --version and --print-config,
// then runs `body` with the Configuration (where each setting came from), turning every error
// into one line on stderr ("<program>: error: ...") and an
// exit code: 2 for usage errors (a bad configuration file too), 1 for everything else.
int run(CLI::App& app, int argc, char** argv, const std::function<int(const Configuration&)>& body,
        const std::function<ProgramCatalog()>& catalog = {});

}  // namespace logship::cli
