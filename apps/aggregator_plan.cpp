// log_aggregator's flag checks and the translation of its settings into options (plans.hpp).
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "broker/resolve.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/host.hpp"
#include "plans.hpp"

namespace logship::apps {
namespace {

// Redis: the default consumer id is "<host>:<absolute output path>", stable across restarts, so a
// restarted aggregator takes back the records its previous run had not finished.
std::string defaultConsumerId(const std::string& output) {
  std::error_code ec;
  auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(output, ec), ec);
  if (ec) path = std::filesystem::path(output).lexically_normal();
  return fmt::format("{}:{}", localHostName(), escaped(path.string()));
}

void validateConsumerId(const std::string& id) {
  if (id.empty() || id.size() > 200) throw UsageError("--consumer-id: must be 1 to 200 bytes long");
  for (unsigned char c : id) {
    if (c <= 0x20 || c == 0x7f) {
      throw UsageError(fmt::format("--consumer-id: '{}' contains a space or control character", escaped(id)));
    }
  }
}

ConsumerOptions consumerOptions(const AggregatorSettings& s) {
  ConsumerOptions consumer = s.consumer;
  consumer.queue = s.broker.queue;
  validateShardIds(consumer.shardIds, s.broker.shards);
  consumer.maxBodyBytes = s.collector.maxMessageBytes;
  consumer.leaseTtl = millis(s.leaseSeconds);
  if (s.consumerIdOption->count() > 0) {
    validateConsumerId(consumer.consumerId);
  } else {
    consumer.consumerId = defaultConsumerId(s.output);
  }
  return consumer;
}

// The rotation flags; --compress, --keep and --max-age need --rotate-bytes or --rotate-interval.
RotationOptions rotationOptions(const AggregatorSettings& s) {
  RotationOptions rotation;
  rotation.maxBytes = s.rotateBytes;
  rotation.interval = std::chrono::seconds(s.rotateIntervalSeconds);
  rotation.compress = s.compress == "zstd";
  rotation.keep = static_cast<size_t>(s.keep);
  rotation.maxAge = std::chrono::seconds(s.maxAgeSeconds);
  if (!rotation.rotates()) {
    for (const auto* o : {s.compressOption, s.keepOption, s.maxAgeOption}) {
      if (o->count() > 0) {
        throw UsageError(
            fmt::format("{} applies to rotated files: give --rotate-bytes or --rotate-interval too", o->get_name()));
      }
    }
  }
  return rotation;
}

StreamStart streamStart(const std::string& text) {
  const std::optional<StreamStart> start = parseStreamStart(text);
  if (!start) {
    throw UsageError(
        fmt::format("--stream-from: '{}' is not first, last, next, an offset or a time such as "
                    "2026-12-06T08:00:00Z",
                    escaped(text)));
  }
  return *start;
}

}  // namespace

AggregatorPlan planAggregator(const AggregatorSettings& s) {
  AggregatorPlan plan;
  plan.collector = s.collector;
  plan.collector.format = *parseOutputFormat(s.format);
  plan.collector.idleExit = millis(s.idleExit);
  if (s.writeRetryOption->count() > 0) plan.collector.writeRetryFor = millis(s.writeRetrySeconds);
  plan.consumer = consumerOptions(s);
  plan.rotation = rotationOptions(s);
  plan.streamStart = streamStart(s.streamFrom);
  plan.routes = parseRoutes(s.routes, s.output);
  if (s.unroutedOnly && plan.routes.empty()) {
    throw UsageError("--unrouted-only: there is no --route, so every record would go to --output anyway");
  }
  plan.file = OutputFileOptions{static_cast<mode_t>(std::stoul(s.fileMode, nullptr, 8)), s.allowSymlinkOutput};
  plan.dedup = s.dedup;
  plan.dedup.fsync = plan.collector.fsync;
  return plan;
}

}  // namespace logship::apps
