#include "producer/input/input_loop.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "producer/shipper.hpp"

namespace logship {

bool runInputs(std::vector<std::unique_ptr<Input>>& inputs, Shipper& shipper, const std::atomic<bool>& stop) {
  std::vector<bool> open(inputs.size(), true);
  size_t stillOpen = inputs.size();
  std::vector<pollfd> fds;
  bool stopped = false;
  while (stillOpen > 0) {
    if (stop.load()) {
      stopped = true;
      break;
    }
    if (shipper.failed()) break;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (open[i] && !inputs[i]->read(shipper)) {
        open[i] = false;
        --stillOpen;
      }
    }
    if (stillOpen == 0 || shipper.failed()) break;
    shipper.flushDue();
    fds.clear();
    auto timeout = shipper.wakeIn();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!open[i]) continue;
      inputs[i]->addPollFds(fds);
      timeout = std::min(timeout, inputs[i]->wakeIn());
    }
    timeout = std::max(timeout, std::chrono::milliseconds(0));
    for (auto& f : fds) f.revents = 0;
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (ready < 0 && errno != EINTR) throw Error(fmt::format("waiting for input: {}", std::strerror(errno)));
  }
  for (auto& input : inputs) input->endOfInput(shipper);
  return stopped;
}

}  // namespace logship
