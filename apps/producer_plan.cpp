// log_producer's flag checks and the translation of its settings into options (plans.hpp).
#include <cctype>
#include <functional>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/record.hpp"
#include "plans.hpp"

namespace logship::apps {
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

// --service and --host as logctl tail --service takes them (core/record.hpp).
const std::string& checkedName(const char* flag, const std::string& name) {
  const std::string_view problem = recordNameProblem(name);
  if (!problem.empty()) {
    throw UsageError(fmt::format("{} '{}': {} (without {} the records have {})", flag, escaped(name), problem, flag,
                                 std::string_view(flag) == "--service" ? "the service '-'" : "this machine's name"));
  }
  return name;
}

Record recordTemplate(const ProducerSettings& s) {
  Record r;
  const auto level = parseLevel(s.level);
  if (!level)
    throw UsageError(fmt::format("--level '{}': use trace, debug, info, warn, error or fatal", escaped(s.level)));
  r.level = *level;
  r.service = checkedName("--service", s.service);
  r.host = checkedName("--host", s.host);
  for (const auto& t : s.fields) r.fields.push_back(parseField(t));
  return r;
}

// Was the flag given on the command line or in the environment (not by the configuration file)?
using GivenHere = std::function<bool(const char*)>;

ShipperOptions shipperOptions(const ProducerSettings& s, const GivenHere& givenHere) {
  ShipperOptions ship = s.ship;
  ship.confirmTimeout = millis(s.confirmTimeout);
  ship.linger = std::chrono::milliseconds(s.lingerMs);
  if (!ship.spoolDir.empty()) {
    if (s.spoolMaxBytes < 4 * ship.maxMessageBytes) {
      throw UsageError(
          fmt::format("--spool-max-bytes {} is too small for --max-message-bytes {}: give it at least "
                      "4 times as much",
                      s.spoolMaxBytes, ship.maxMessageBytes));
    }
    ship.spoolLimits.maxBytes = s.spoolMaxBytes;
    ship.spoolLimits.dropWhenFull = s.spoolFull == "drop";
  } else if (givenHere("--spool-max-bytes") || givenHere("--spool-full")) {
    throw UsageError("--spool-max-bytes and --spool-full need --spool-dir");
  }
  return ship;
}

// Multiline records, for stdin and --follow alike.
MultilineOptions multilineOptions(const ProducerSettings& s, const GivenHere& givenHere) {
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
  m.timeout = millis(s.multilineTimeout);
  return m;
}

// --follow; without it, its settings are refused on the command line.
std::optional<FileInputOptions> followOptions(const ProducerSettings& s, const ShipperOptions& ship,
                                              const MultilineOptions& multiline, const GivenHere& givenHere) {
  if (s.follow.empty()) {
    for (const char* flag : {"--state-file", "--from-beginning", "--poll-interval", "--close-rotated-after"}) {
      if (givenHere(flag)) throw UsageError(fmt::format("{} needs --follow", flag));
    }
    return std::nullopt;
  }
  if (!s.words.empty()) throw UsageError("--follow reads files: give no MESSAGE with it");
  FileInputOptions o;
  o.patterns = s.follow;
  o.stateFile = !s.stateFile.empty() ? s.stateFile : ship.spoolDir.empty() ? "" : ship.spoolDir + "/follow.state";
  if (o.stateFile.empty()) {
    throw UsageError(
        "--follow needs --state-file PATH (or --spool-dir DIR, which keeps it in DIR/follow.state): the "
        "offsets read must survive a restart");
  }
  o.fromBeginning = s.fromBeginning;
  o.pollInterval = millis(s.pollInterval);
  o.closeRotatedAfter = millis(s.closeRotatedAfter);
  o.maxLineBytes = ship.maxMessageBytes;
  o.multiline = multiline;
  return o;
}

}  // namespace

ProducerPlan planProducer(const CLI::App& app, const ProducerSettings& s, const cli::Configuration& config) {
  const GivenHere givenHere = [&](const char* name) {
    const CLI::Option* option = app.get_option(name);
    return option->count() > 0 && !config.fromFile(option);
  };
  ProducerPlan plan;
  plan.recordTemplate = recordTemplate(s);
  plan.ship = shipperOptions(s, givenHere);
  plan.sendsMessage = !s.words.empty();
  for (const auto& w : s.words) plan.message += (plan.message.empty() ? "" : " ") + w;
  if (plan.message.size() > plan.ship.maxMessageBytes) {
    throw UsageError(fmt::format("message of {} bytes is over the limit of {} bytes (--max-message-bytes)",
                                 plan.message.size(), plan.ship.maxMessageBytes));
  }
  plan.multiline = multilineOptions(s, givenHere);
  plan.syslog = s.syslog;
  plan.syslog.maxMessageBytes = plan.ship.maxMessageBytes;
  if (plan.sendsMessage && (!plan.syslog.udp.empty() || !plan.syslog.tcp.empty())) {
    throw UsageError("MESSAGE arguments cannot be combined with --syslog-udp or --syslog-tcp");
  }
  plan.follow = followOptions(s, plan.ship, plan.multiline, givenHere);
  plan.waitReplicas = s.waitReplicas;
  plan.waitTimeout = millis(s.waitTimeout);
  return plan;
}

}  // namespace logship::apps
