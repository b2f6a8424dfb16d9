#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "producer/input/input.hpp"

namespace logship {

// Runs the inputs on the calling thread until every one of them has ended, `stop` is set (a stop
// signal), or the shipper has failed. Then calls endOfInput() on each. Returns true when it ended
// because of `stop`. The caller then calls Shipper::finish and afterFinish() on each input.
bool runInputs(std::vector<std::unique_ptr<Input>>& inputs, Shipper& shipper, const std::atomic<bool>& stop);

}  // namespace logship
