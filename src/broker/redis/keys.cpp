#include "broker/redis/keys.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include <fmt/format.h>

namespace logship::redis {

std::string QueueKeys::processingPattern() const {
  // Glob-escape the queue name so that '*', '?', '[' and '\' in it match only themselves.
  std::string pattern;
  for (char c : queue) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + ".processing.*";
}

LeaseOwner parseLeaseToken(std::string_view token) {
  LeaseOwner owner;
  std::string_view parts[4];
  size_t n = 0;
  size_t start = 0;
  while (n < 4 && start <= token.size()) {
    const size_t space = token.find(' ', start);
    parts[n++] = token.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  auto number = [](std::string_view s) -> int64_t {
    int64_t v = 0;
    if (s.empty() || s.size() > 18) return 0;
    for (char c : s) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  owner.host = std::string(parts[0]);
  if (n >= 2) owner.pid = number(parts[1]);
  if (n >= 4) owner.ttlMs = number(parts[3]);
  return owner;
}

bool leaseHolderGone(const LeaseOwner& owner, std::string_view thisHost) {
  if (owner.host != thisHost || owner.pid <= 0 || owner.pid == getpid()) return false;  // we are alive
  if (kill(static_cast<pid_t>(owner.pid), 0) != 0) return errno == ESRCH;
  std::ifstream comm(fmt::format("/proc/{}/comm", owner.pid));
  std::string name;
  if (!std::getline(comm, name)) return false;
  return name != "log_aggregator";
}

}  // namespace logship::redis
