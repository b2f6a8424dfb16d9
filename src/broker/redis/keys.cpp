#include "broker/redis/keys.hpp"

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

}  // namespace logship::redis
