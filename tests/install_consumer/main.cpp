// consumer QUEUE N M: logs N records through logship::Client and M through an spdlog logger with
// the logship sink, then returns from main (the client's destructor flushes). The broker and its
// password come from LOGSHIP_BROKER and LOGSHIP_PASSWORD.
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include <logship/client.hpp>
#include <logship/spdlog_sink.hpp>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: consumer QUEUE N M\n");
    return 2;
  }
  logship::ClientOptions options;
  options.queue = argv[1];
  options.service = "install-consumer";
  options.fields = {{"build", "installed"}};
  const long n = std::stol(argv[2]);
  const long m = std::stol(argv[3]);

  auto client = std::make_shared<logship::Client>(options);
  for (long i = 0; i < n; ++i) client->log(logship::Level::Info, "installed client " + std::to_string(i));
  auto logger = std::make_shared<spdlog::logger>("consumer", std::make_shared<logship::spdlog_sink_mt>(client));
  for (long i = 0; i < m; ++i) logger->warn("installed sink {}", i);

  const logship::ClientStats s = client->stats();
  std::printf("accepted=%llu dropped=%llu\n", static_cast<unsigned long long>(s.accepted),
              static_cast<unsigned long long>(s.dropped));
  return 0;
}
