#include "core/host.hpp"

#include <unistd.h>

namespace logship {

std::string localHostName() {
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace logship
