// client_app: an application that ships its logs with the Logship client library, directly through
// logship::Client and through an spdlog logger with the logship sink. It is the library's example
// (README, "Client library") and what the tests drive (tests/e2e/test_client.py).
//
//   client_app [--count N] [--spdlog-count M] [--service NAME] [--broker URL] [--password-file FILE]
//              [--queue NAME] [--spool-dir DIR] [--queue-records N] [--overflow drop|block]
//              [--flush-timeout SECONDS] [--batch-records N] [--end return|exit|global] [--progress]
//              [--big-field BYTES]
//
// It logs N records with Client::log (message "direct record I", levels trace to fatal in turn,
// fields n=I and via=client, and with --big-field a field big of BYTES 'x's), then M through spdlog (message "spdlog
// record I", spdlog's levels trace to critical in turn, from the logger "example"), prints what log() accepted and
// dropped, and ends as --end says:
//   return  the client is owned by main, which returns: its destructor flushes (the default);
//           the final counts are printed first, after close()
//   exit    std::exit(0) right after logging, without flushing or destroying anything: the library
//           closes the client at exit
//   global  the client is a global object, and main returns: it is closed at exit
// The broker URL and password come from the environment by default (LOGSHIP_BROKER,
// LOGSHIP_PASSWORD), as for Logship's programs. The library's own warnings go to stderr. Exit status (--end return): 0
// if no record was dropped or lost (records left in a spool directory for the next run count as kept), else 1.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <logship/client.hpp>
#include <logship/spdlog_sink.hpp>

namespace {

std::shared_ptr<logship::Client> gClient;  // --end global

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "client_app: error: %s (see the comment at the top of examples/client_app.cpp)\n", why);
  std::exit(2);
}

void printStats(const char* when, const logship::ClientStats& s) {
  std::printf("%s: accepted=%llu dropped=%llu confirmed=%llu failed=%llu pending=%llu recovered=%llu\n", when,
              static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.dropped),
              static_cast<unsigned long long>(s.confirmed), static_cast<unsigned long long>(s.failed),
              static_cast<unsigned long long>(s.pending), static_cast<unsigned long long>(s.recovered));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // The library reports its own problems (the broker unreachable, records lost at close) through
  // spdlog's default logger, which writes to stdout unless the application says otherwise.
  spdlog::set_default_logger(spdlog::stderr_color_mt("client_app"));

  logship::ClientOptions options;
  options.service = "client_app";
  long count = 10;
  long spdlogCount = 10;
  std::string end = "return";
  bool progress = false;
  std::size_t bigField = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--progress") {
      progress = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--count")
      count = std::stol(value);
    else if (flag == "--spdlog-count")
      spdlogCount = std::stol(value);
    else if (flag == "--service")
      options.service = value;
    else if (flag == "--broker")
      options.broker = value;
    else if (flag == "--password-file")
      options.passwordFile = value;
    else if (flag == "--queue")
      options.queue = value;
    else if (flag == "--spool-dir")
      options.spoolDir = value;
    else if (flag == "--queue-records")
      options.queueRecords = std::stoul(value);
    else if (flag == "--batch-records")
      options.batchRecords = std::stoul(value);
    else if (flag == "--big-field")
      bigField = std::stoul(value);
    else if (flag == "--flush-timeout")
      options.flushTimeout = std::chrono::milliseconds(std::lround(std::stod(value) * 1000));
    else if (flag == "--overflow" && (value == "drop" || value == "block")) {
      options.overflow = value == "drop" ? logship::OverflowPolicy::Drop : logship::OverflowPolicy::Block;
    } else if (flag == "--end" && (value == "return" || value == "exit" || value == "global")) {
      end = value;
    } else {
      usage(("unknown option or value: " + flag + " " + value).c_str());
    }
  }

  std::shared_ptr<logship::Client> client;
  try {
    client = std::make_shared<logship::Client>(options);
  } catch (const logship::ClientError& e) {  // a bad option: nothing was started
    std::fprintf(stderr, "client_app: error: %s\n", e.what());
    return 2;
  }
  if (end == "global") gClient = client;

  // Direct: a level, a message and fields.
  const logship::Level levels[] = {logship::Level::Trace, logship::Level::Debug, logship::Level::Info,
                                   logship::Level::Warn,  logship::Level::Error, logship::Level::Fatal};
  for (long i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    if (bigField == 0) {
      client->log(levels[i % 6], "direct record " + n, {{"n", n}, {"via", "client"}});
    } else {
      const std::string big(bigField, 'x');
      client->log(levels[i % 6], "direct record " + n, {{"n", n}, {"via", "client"}, {"big", big}});
    }
    if (progress) {
      std::printf("logged %ld\n", i + 1);
      std::fflush(stdout);
    }
  }

  // Through spdlog: the sink turns each message into a record (its level, its text, the logger's
  // name and the source location as fields).
  auto logger = std::make_shared<spdlog::logger>("example", std::make_shared<logship::spdlog_sink_mt>(client));
  logger->set_level(spdlog::level::trace);
  const spdlog::level::level_enum spdlogLevels[] = {spdlog::level::trace, spdlog::level::debug,
                                                    spdlog::level::info,  spdlog::level::warn,
                                                    spdlog::level::err,   spdlog::level::critical};
  for (long i = 0; i < spdlogCount; ++i) {
    SPDLOG_LOGGER_CALL(logger, spdlogLevels[i % 6], "spdlog record {}", i);
    if (progress) {
      std::printf("logged %ld\n", count + i + 1);
      std::fflush(stdout);
    }
  }
  if (end == "global") spdlog::register_logger(logger);  // the registry keeps the sink (and client) alive

  printStats("logged", client->stats());
  if (end == "exit") std::exit(0);  // no flush, no destructor: the library closes the client at exit
  if (end == "global") return 0;    // the global client is closed at exit

  client->close();  // what the destructor would do; here, to print the final counts
  const logship::ClientStats s = client->stats();
  printStats("closed", s);
  return s.dropped == 0 && s.failed == 0 ? 0 : 1;
}
