// Configuration files (cli/config.hpp): values reach the options, precedence, key spelling, arrays,
// program and subcommand tables, and every kind of error naming the file, the line and the key.
#include "cli/config.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/common.hpp"

using namespace logship;

namespace {

// Unique per process: ctest runs the tests of this file in parallel processes.
std::string writeFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path) << content;
  return path;
}

// A program like ours: the broker flags and a few of each kind of option.
struct Prog {
  CLI::App app{"test program", "prog"};
  cli::BrokerFlags broker;
  int prefetch = 200;
  bool fsync = false;
  std::vector<std::string> fields;
  double idle = 0;
  std::string format = "text";
  size_t batchBytes = 256 * 1024;
  std::string fromEnv = "default";

  Prog() {
    cli::addBrokerFlags(app, broker);
    app.add_option("--prefetch", prefetch, "n")->check(cli::range(1, 65535))->capture_default_str();
    app.add_flag("--fsync", fsync, "f");
    app.add_option("--field", fields, "k=v")->allow_extra_args(false);
    app.add_option("--idle-exit", idle, "s")->check(cli::range(0.0, 100.0))->capture_default_str();
    app.add_option("--format", format, "f")->check(CLI::IsMember({"text", "raw", "json"}))->capture_default_str();
    app.add_option("--batch-bytes", batchBytes, "b")->transform(CLI::AsSizeValue(false))->default_str("256K");
    app.add_option("--from-env", fromEnv, "e")->envname("LOGSHIP_TEST_FROM_ENV")->capture_default_str();
    cli::addConfigFlags(app);
  }
};

// Another program of the same host, with a setting `prog` lacks.
struct Other {
  CLI::App app{"other program", "other_prog"};
  std::string only;
  int prefetch = 0;
  Other() {
    app.add_option("--only-other", only, "o");
    app.add_option("--prefetch", prefetch, "n");
  }
};

// A program with subcommands, like logctl.
struct Ctl {
  CLI::App app{"ctl", "ctl"};
  bool statusJson = false;
  std::vector<std::string> services;
  bool searchJson = false;
  Ctl() {
    auto* status = app.add_subcommand("status", "s");
    status->add_flag("--json", statusJson, "j");
    auto* search = app.add_subcommand("search", "s");
    search->add_option("--service", services, "s");
    search->add_flag("--json", searchJson, "j");
    cli::addConfigFlags(app);
  }
};

cli::ProgramCatalog catalog() {
  cli::ProgramCatalog c;
  Prog p;
  Other o;
  Ctl ctl;
  c.add(p.app);
  c.add(o.app);
  c.add(ctl.app);
  return c;
}

cli::Configuration configure(CLI::App& app, std::vector<std::string> args) {
  args.insert(args.begin(), app.get_name());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return cli::configure(app, static_cast<int>(argv.size()), argv.data(), catalog);
}

// The ConfigError message for `file` (given with --config), or "" if it loads.
std::string configError(const std::string& file, std::vector<std::string> args = {}) {
  const std::string path = writeFile("logship_config_error.toml", file);
  Prog p;
  args.insert(args.begin(), {"--config", path});
  try {
    configure(p.app, args);
  } catch (const cli::ConfigError& e) {
    std::string what = e.what();
    const std::string prefix = path + ":";
    return what.starts_with(prefix) ? "FILE:" + what.substr(prefix.size()) : what;
  }
  return "";
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("LOGSHIP_CONFIG");
    ::unsetenv("LOGSHIP_BROKER");
    ::unsetenv("LOGSHIP_TEST_FROM_ENV");
  }
  void TearDown() override { SetUp(); }
};

}  // namespace

TEST_F(ConfigTest, FileGivesTypedValuesToTheOptions) {
  const std::string path = writeFile("logship_values.toml",
                                     "broker = \"redis://cache.example:6380/1\"\n"
                                     "queue = \"app\"\n"
                                     "[prog]\n"
                                     "prefetch = 5\n"
                                     "fsync = true\n"
                                     "field = [\"env=prod\", \"dc=1\"]\n"
                                     "idle-exit = 2.5\n"
                                     "format = \"json\"\n"
                                     "batch-bytes = \"1M\"\n");
  Prog p;
  const cli::Configuration c = configure(p.app, {"--config", path});
  EXPECT_EQ(p.broker.url, "redis://cache.example:6380/1");
  EXPECT_EQ(p.broker.queue, "app");
  EXPECT_EQ(p.prefetch, 5);
  EXPECT_TRUE(p.fsync);
  EXPECT_EQ(p.fields, (std::vector<std::string>{"env=prod", "dc=1"}));
  EXPECT_DOUBLE_EQ(p.idle, 2.5);
  EXPECT_EQ(p.format, "json");
  EXPECT_EQ(p.batchBytes, 1024u * 1024u);
  EXPECT_EQ(c.sourceOf(p.app.get_option("--prefetch")), path + ":4");
  EXPECT_EQ(c.sourceOf(p.app.get_option("--queue")), path + ":2");
  EXPECT_TRUE(c.fromFile(p.app.get_option("--prefetch")));
  EXPECT_FALSE(c.fromFile(p.app.get_option("--retry-seconds")));
  EXPECT_EQ(c.sourceOf(p.app.get_option("--retry-seconds")), "");  // default
  EXPECT_FALSE(c.printRequested());
}

TEST_F(ConfigTest, IntegersAreAcceptedForFloatOptionsAndFalseForFlags) {
  const std::string path = writeFile("logship_kinds.toml", "[prog]\nidle-exit = 3\nfsync = false\n");
  Prog p;
  p.fsync = true;
  configure(p.app, {"--config", path});
  EXPECT_DOUBLE_EQ(p.idle, 3.0);
  EXPECT_FALSE(p.fsync);
}

TEST_F(ConfigTest, PrecedenceCommandLineThenEnvironmentThenFileThenDefault) {
  const std::string path =
      writeFile("logship_precedence.toml", "[prog]\nprefetch = 7\nfrom-env = \"file\"\nqueue = \"fromfile\"\n");
  {
    Prog p;  // the file beats the default
    configure(p.app, {"--config", path});
    EXPECT_EQ(p.prefetch, 7);
    EXPECT_EQ(p.fromEnv, "file");
  }
  {
    Prog p;  // the environment beats the file
    ::setenv("LOGSHIP_TEST_FROM_ENV", "env", 1);
    const cli::Configuration c = configure(p.app, {"--config", path});
    EXPECT_EQ(p.fromEnv, "env");
    EXPECT_EQ(c.sourceOf(p.app.get_option("--from-env")), "environment LOGSHIP_TEST_FROM_ENV");
  }
  {
    Prog p;  // the command line beats both
    ::setenv("LOGSHIP_TEST_FROM_ENV", "env", 1);
    const cli::Configuration c =
        configure(p.app, {"--config", path, "--from-env", "cli", "--prefetch", "9", "--queue", "q"});
    EXPECT_EQ(p.fromEnv, "cli");
    EXPECT_EQ(p.prefetch, 9);
    EXPECT_EQ(p.broker.queue, "q");
    EXPECT_EQ(c.sourceOf(p.app.get_option("--prefetch")), "command line");
  }
  {
    Prog p;  // no file: the default
    ::unsetenv("LOGSHIP_TEST_FROM_ENV");
    configure(p.app, {});
    EXPECT_EQ(p.prefetch, 200);
    EXPECT_EQ(p.fromEnv, "default");
  }
}

TEST_F(ConfigTest, PasswordPrecedenceCommandLineThenEnvironmentThenFile) {
  const std::string inFile = writeFile("logship_pw_config", "fromconfigfile\n");
  const std::string onCli = writeFile("logship_pw_cli", "fromcli\n");
  const std::string path =
      writeFile("logship_pw.toml", "broker = \"amqp://u:fromurl@h/\"\npassword-file = \"" + inFile + "\"\n");
  ::unsetenv("LOGSHIP_PASSWORD");
  {
    Prog p;
    const cli::Configuration c = configure(p.app, {"--config", path});
    EXPECT_EQ(cli::resolveBroker(p.broker, "t", &c).url.password, "fromconfigfile");
  }
  ::setenv("LOGSHIP_PASSWORD", "fromenv", 1);
  {
    Prog p;
    const cli::Configuration c = configure(p.app, {"--config", path});
    EXPECT_EQ(cli::resolveBroker(p.broker, "t", &c).url.password, "fromenv");
  }
  {
    Prog p;
    const cli::Configuration c = configure(p.app, {"--config", path, "--password-file", onCli});
    EXPECT_EQ(cli::resolveBroker(p.broker, "t", &c).url.password, "fromcli");
  }
  ::unsetenv("LOGSHIP_PASSWORD");
}

TEST_F(ConfigTest, LogshipConfigNamesTheFileAndConfigBeatsIt) {
  const std::string fromEnv = writeFile("logship_env.toml", "[prog]\nprefetch = 11\n");
  const std::string fromFlag = writeFile("logship_flag.toml", "[prog]\nprefetch = 12\n");
  ::setenv("LOGSHIP_CONFIG", fromEnv.c_str(), 1);
  {
    Prog p;
    const cli::Configuration c = configure(p.app, {});
    EXPECT_EQ(p.prefetch, 11);
    EXPECT_EQ(c.configPath(), fromEnv);
  }
  {
    Prog p;
    configure(p.app, {"--config", fromFlag});
    EXPECT_EQ(p.prefetch, 12);
  }
}

TEST_F(ConfigTest, DashesAndUnderscoresAreTheSameKey) {
  const std::string path = writeFile("logship_underscores.toml", "retry_seconds = 2.5\n[prog]\nidle_exit = 4\n");
  Prog p;
  configure(p.app, {"--config", path});
  EXPECT_DOUBLE_EQ(p.broker.retrySeconds, 2.5);
  EXPECT_DOUBLE_EQ(p.idle, 4.0);
  EXPECT_EQ(configError("[prog]\nidle-exit = 1\nidle_exit = 2\n"),
            "FILE:3: key 'idle_exit': set twice: also as 'idle-exit' on line 2");
  EXPECT_EQ(configError("[other-prog]\nonly_other = \"x\"\n"), "");  // table names too
}

TEST_F(ConfigTest, ArraysForRepeatableOptionsAndTheBrokerList) {
  const std::string path = writeFile("logship_arrays.toml",
                                     "broker = [\"amqp://mq1.example\", \"amqp://mq2.example:5673/\"]\n"
                                     "[prog]\nfield = \"single=1\"\n");
  Prog p;
  configure(p.app, {"--config", path});
  EXPECT_EQ(p.broker.url, "amqp://mq1.example,amqp://mq2.example:5673/");
  EXPECT_EQ(cli::resolveBroker(p.broker, "t").urls.size(), 2u);
  EXPECT_EQ(p.fields, std::vector<std::string>{"single=1"});  // a lone string is one element

  EXPECT_EQ(configError("[prog]\nprefetch = [1, 2]\n"), "FILE:2: key 'prefetch': expected an integer, not an array");
  EXPECT_EQ(configError("[prog]\nfield = [\"a=1\", 2]\n"),
            "FILE:2: key 'field': expected a string or an array of strings, not an array holding an integer "
            "(quote it)");
  EXPECT_EQ(configError("[prog]\nfield = [[\"a=1\"]]\n"),
            "FILE:2: key 'field': an array may hold only strings, numbers and booleans");
}

TEST_F(ConfigTest, ProgramTablesOverrideTheSharedKeys) {
  const std::string path = writeFile("logship_tables.toml",
                                     "prefetch = 3\n"
                                     "only-other = \"not for prog\"\n"  // shared: prog has no such setting
                                     "[prog]\n"
                                     "prefetch = 4\n"
                                     "[other_prog]\n"
                                     "prefetch = 99999\n");  // not prog's: not applied (nor range-checked)
  Prog p;
  configure(p.app, {"--config", path});
  EXPECT_EQ(p.prefetch, 4);
  const std::string shared = writeFile("logship_shared.toml", "prefetch = 3\n");
  Prog q;
  configure(q.app, {"--config", shared});
  EXPECT_EQ(q.prefetch, 3);
}

TEST_F(ConfigTest, SubcommandTables) {
  const std::string path = writeFile("logship_sub.toml",
                                     "[ctl]\njson = true\n"
                                     "[ctl.search]\njson = false\nservice = [\"a\", \"b\"]\n");
  {
    Ctl c;
    configure(c.app, {"--config", path, "status"});
    EXPECT_TRUE(c.statusJson);  // [ctl]
  }
  {
    Ctl c;
    configure(c.app, {"search", "--config", path});
    EXPECT_FALSE(c.searchJson);  // [ctl.search] beats [ctl]
    EXPECT_EQ(c.services, (std::vector<std::string>{"a", "b"}));
  }
  EXPECT_EQ(configError("[ctl.status]\nservice = \"a\"\n"), "FILE:2: key 'service': ctl status has no such setting");
  EXPECT_EQ(configError("[ctl]\nstatus = 1\n"),
            "FILE:2: key 'status': names a subcommand: give its settings in a table, [ctl.status]");
}

TEST_F(ConfigTest, UnknownKeysNameTheKeyAndTheLine) {
  EXPECT_EQ(configError("queue = \"q\"\n\nprefetchh = 5\n"), "FILE:3: key 'prefetchh': no program has such a setting");
  EXPECT_EQ(configError("[prog]\nonly-other = \"x\"\n"), "FILE:2: key 'only-other': prog has no such setting");
  EXPECT_EQ(configError("[other_prog]\nfsync = true\n"), "FILE:2: key 'fsync': other_prog has no such setting");
  EXPECT_EQ(configError("[log_producerr]\nqueue = \"q\"\n"),
            "FILE:1: key 'log_producerr': no program is called so: the tables are [ctl], [other_prog], [prog]");
  EXPECT_EQ(configError("prog = 5\n"), "FILE:1: key 'prog': names a program: give its settings in a table, [prog]");
  EXPECT_EQ(configError("config = \"/etc/other.toml\"\n"),
            "FILE:1: key 'config': --config is given on the command line only");
}

TEST_F(ConfigTest, WrongTypesNameTheKeyAndTheLine) {
  EXPECT_EQ(configError("[prog]\nfsync = \"yes\"\n"),
            "FILE:2: key 'fsync': expected true or false, not a string (write true or false without quotes)");
  EXPECT_EQ(configError("[prog]\nprefetch = 1.5\n"), "FILE:2: key 'prefetch': expected an integer, not a float");
  EXPECT_EQ(configError("queue = 5\n"), "FILE:1: key 'queue': expected a string, not an integer (quote it)");
  EXPECT_EQ(configError("[prog]\nformat = { a = 1 }\n"),
            "FILE:2: key 'format': expected a string, not a table or date");
  // A shared key is checked against every program that has it.
  EXPECT_EQ(configError("prefetch = \"many\"\n"), "FILE:1: key 'prefetch': 'many' is not a whole number");
}

TEST_F(ConfigTest, BadValuesNameTheKeyAndTheLine) {
  EXPECT_EQ(configError("\n[prog]\nprefetch = 0\n"), "FILE:3: key 'prefetch': '0' is too small: at least 1");
  EXPECT_EQ(configError("[prog]\nidle-exit = 500\n"), "FILE:2: key 'idle-exit': '500' is too large: at most 100");
  EXPECT_EQ(configError("[prog]\nformat = \"xml\"\n"), "FILE:2: key 'format': xml not in {text,raw,json}");
  EXPECT_EQ(configError("password-file = \"/nonexistent/pw\"\n"),
            "FILE:1: key 'password-file': File does not exist: /nonexistent/pw");
  // The command line wins, so a bad file value it overrides is never applied.
  EXPECT_EQ(configError("[prog]\nprefetch = 0\n", {"--prefetch", "5"}), "");
}

TEST_F(ConfigTest, SyntaxErrorsNameLineAndColumn) {
  const std::string message = configError("queue = \"q\"\nprefetch = = 5\n");
  EXPECT_TRUE(message.starts_with("FILE:2:")) << message;
  EXPECT_EQ(message.substr(0, 9), "FILE:2:12") << message;
}

TEST_F(ConfigTest, MissingFileIsNamed) {
  Prog p;
  try {
    configure(p.app, {"--config", "/nonexistent/logship.toml"});
    FAIL() << "no error";
  } catch (const cli::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read the configuration file /nonexistent/logship.toml: No such file or directory");
  }
}

TEST_F(ConfigTest, BadEnvironmentValueIsAUsageErrorNamingTheVariable) {
  Prog p;
  ::setenv("LOGSHIP_REQUIRE_TLS", "maybe", 1);
  try {
    configure(p.app, {});
    FAIL() << "no error";
  } catch (const cli::ConfigError&) {
    FAIL() << "not a file error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("LOGSHIP_REQUIRE_TLS"), std::string::npos) << e.what();
  }
  ::unsetenv("LOGSHIP_REQUIRE_TLS");
}

TEST_F(ConfigTest, PrintConfigRoundTripsAndHidesPasswords) {
  const std::string file = writeFile("logship_print_in.toml", "[prog]\nfield = [\"a=1\", \"b=2\"]\nidle-exit = 0.5\n");
  Prog p;
  const cli::Configuration first =
      configure(p.app, {"--config", file, "--print-config", "--broker", "amqp://alice:s3cret@mq1,amqp://mq2",
                        "--prefetch", "9", "--fsync", "--batch-bytes", "2K"});
  ASSERT_TRUE(first.printRequested());
  const std::string printed = first.toToml();
  EXPECT_EQ(printed.find("s3cret"), std::string::npos) << printed;
  EXPECT_NE(printed.find("broker = [\"amqp://alice:***@mq1:5672/\", \"amqp://mq2\"]  # command line"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("prefetch = 9  # command line"), std::string::npos) << printed;
  EXPECT_NE(printed.find("fsync = true"), std::string::npos) << printed;
  EXPECT_NE(printed.find("batch-bytes = 2048"), std::string::npos) << printed;
  EXPECT_NE(printed.find("field = [\"a=1\", \"b=2\"]  # " + file + ":2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("idle-exit = 0.5"), std::string::npos) << printed;
  EXPECT_NE(printed.find("# queue = \"logs_queue\"  (default)"), std::string::npos) << printed;

  const std::string again = writeFile("logship_print_out.toml", printed);
  Prog q;
  const cli::Configuration second = configure(q.app, {"--config", again});
  EXPECT_EQ(q.broker.url, "amqp://alice:***@mq1:5672/,amqp://mq2");
  EXPECT_EQ(q.prefetch, 9);
  EXPECT_TRUE(q.fsync);
  EXPECT_EQ(q.batchBytes, 2048u);
  EXPECT_EQ(q.fields, (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_DOUBLE_EQ(q.idle, 0.5);
  EXPECT_EQ(q.broker.queue, "logs_queue");
  // The values print the same (only their sources differ).
  auto values = [](const std::string& toml) {
    std::string out;
    size_t start = 0;
    while (start < toml.size()) {
      size_t end = toml.find('\n', start);
      if (end == std::string::npos) end = toml.size();
      std::string line = toml.substr(start, end - start);
      if (!line.empty() && line[0] != '#') out += line.substr(0, line.find("  # ")) + "\n";
      start = end + 1;
    }
    return out;
  };
  EXPECT_EQ(values(printed), values(second.toToml()));
}

TEST_F(ConfigTest, PrintConfigWithoutSubcommandShowsEverySubcommand) {
  Ctl c;
  const cli::Configuration config = configure(c.app, {"--print-config"});
  const std::string printed = config.toToml();
  EXPECT_NE(printed.find("[ctl.status]\n# json = false  (default)\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("[ctl.search]\n"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("[ctl]\n"), std::string::npos) << printed;  // no settings of its own
}
