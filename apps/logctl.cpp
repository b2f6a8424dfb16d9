// logctl: sets up and inspects a Logship deployment. Flags and wiring only: see ctl/commands.hpp.
#include "cli/common.hpp"
#include "core/error.hpp"
#include "ctl/commands.hpp"

using namespace logship;

int main(int argc, char** argv) {
  CLI::App app{"Sets up and inspects a Logship deployment.", "logctl"};
  app.footer(
      "Examples:\n"
      "  logctl setup                       # declare logs_queue and logs_queue.dead (idempotent)\n"
      "  logctl status                      # messages waiting and consumers, per queue\n"
      "  logctl status --json --queue app   # the same for queue 'app', for scripts\n"
      "  logctl recover --broker redis://localhost   # put back records of dead Redis consumers");
  app.require_subcommand(0, 1);  // "none" is reported below, after unknown words are
  // One set of flags per subcommand: CLI11 applies LOGSHIP_BROKER to every subcommand's options,
  // parsed or not, so shared variables would let an unused subcommand overwrite --broker.
  cli::BrokerFlags setupFlags, statusFlags, recoverFlags;
  bool json = false;

  auto* setup = app.add_subcommand("setup", "Declare the durable queue and its dead-letter queue (idempotent)");
  cli::addBrokerFlags(*setup, setupFlags);
  auto* status = app.add_subcommand("status", "Show messages waiting and consumers for the queue and its dead letters");
  cli::addBrokerFlags(*status, statusFlags);
  status->add_flag("--json", json, "Print JSON instead of a table");
  auto* recover = app.add_subcommand(
      "recover", "Redis: put the unfinished records of dead aggregators (lease expired) back in the queue now");
  cli::addBrokerFlags(*recover, recoverFlags);

  return cli::run(app, argc, argv, [&]() -> int {
    if (!setup->parsed() && !status->parsed() && !recover->parsed()) {
      throw UsageError("a subcommand is required: setup, status or recover");
    }
    const cli::BrokerFlags& brokerFlags = setup->parsed() ? setupFlags : recover->parsed() ? recoverFlags : statusFlags;
    BrokerOptions broker = cli::resolveBroker(brokerFlags, "logctl");
    if (setup->parsed()) return ctl::setup(broker, brokerFlags.queue);
    if (recover->parsed()) return ctl::recover(broker, brokerFlags.queue);
    return ctl::status(broker, brokerFlags.queue, json);
  });
}
