// logctl: sets up, inspects and searches a Logship deployment. Flags and wiring only: see
// ctl/commands.hpp (the flags are defined in programs.cpp).
#include "cli/common.hpp"
#include "console/command.hpp"
#include "core/error.hpp"
#include "ctl/commands.hpp"
#include "programs.hpp"

using namespace logship;

// cli::run catches what the commands throw; only a programming error in defining the flags could escape
// before it, and std::terminate is the right end for that.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app;
  apps::LogctlSettings s;
  apps::defineLogctl(app, s);

  return cli::run(
      app, argc, argv,
      [&](const cli::Configuration& config) -> int {
        if (!s.setup->parsed() && !s.status->parsed() && !s.recover->parsed() && !s.searchCommand->parsed() &&
            !s.tailCommand->parsed() && !s.deadCommand->parsed() && !s.serveCommand->parsed()) {
          throw UsageError("a subcommand is required: setup, status, recover, tail, dead, search or serve");
        }
        if (s.serveCommand->parsed()) {
          BrokerOptions broker = cli::resolveBroker(s.serveFlags, "logctl", &config);
          broker.management = cli::resolveManagement(s.serveManagementUrl, broker, s.serveFlags.requireTls);
          cli::installStopSignals();
          return console::serve(broker, s.serveFlags.queue, s.serve);
        }
        if (s.searchCommand->parsed()) return ctl::search(s.search);
        if (s.tailCommand->parsed()) {
          BrokerOptions broker = cli::resolveBroker(s.tailFlags, "logctl", &config);
          cli::installStopSignals();
          return ctl::tail(broker, s.tailFlags.queue, s.tail);
        }
        if (s.deadCommand->parsed()) {
          return ctl::dead(cli::resolveBroker(s.deadFlags, "logctl", &config), s.deadFlags.queue, s.dead);
        }
        const cli::BrokerFlags& brokerFlags = s.setup->parsed()     ? s.setupFlags
                                              : s.recover->parsed() ? s.recoverFlags
                                                                    : s.statusFlags;
        BrokerOptions broker = cli::resolveBroker(brokerFlags, "logctl", &config);
        if (s.setup->parsed()) return ctl::setup(broker, brokerFlags.queue);
        if (s.recover->parsed()) return ctl::recover(broker, brokerFlags.queue);
        broker.management = cli::resolveManagement(s.managementUrl, broker, s.statusFlags.requireTls);
        return ctl::status(broker, brokerFlags.queue, s.statusJson);
      },
      apps::programCatalog);
}
