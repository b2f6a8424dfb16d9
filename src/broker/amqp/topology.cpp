#include "broker/amqp/topology.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

namespace logship::amqp {

std::string exchangeName(std::string_view queue) {
  if (queue == "logs_queue") return std::string(kDefaultExchange);
  std::string name(queue);
  name += ".logs";
  return name;
}

std::string shardExchangeName(std::string_view queue) {
  std::string name(queue);
  name += ".shards";
  return name;
}

std::string shardQueueName(std::string_view queue, uint32_t shard) {
  std::string name(queue);
  name += ".shard.";
  name += std::to_string(shard);
  return name;
}

std::string routingKey(std::string_view service, Level level) {
  std::string key(service.substr(0, kMaxServiceKeyBytes));
  key += '.';
  key += levelName(level);
  return key;
}

std::string routingKeyOf(const Message& message) {
  bool enveloped = false;
  std::string_view service = "-";
  Level level = Level::Info;
  for (const auto& h : message.headers) {
    if (h.key == wire::kVersion) {
      enveloped = true;
    } else if (h.key == wire::kService && h.isString) {
      service = h.value;
    } else if (h.key == wire::kLevel && h.isString) {
      level = parseLevel(h.value).value_or(Level::Info);
    }
  }
  if (!enveloped) return routingKey("-", Level::Info);
  return routingKey(service, level);
}

std::vector<std::string> bindingKeys(const std::vector<std::string>& services, Level minLevel) {
  std::vector<std::string> levels;
  if (minLevel != Level::Trace) {
    for (int l = static_cast<int>(minLevel); l <= static_cast<int>(Level::Fatal); ++l) {
      levels.emplace_back(levelName(static_cast<Level>(l)));
    }
  }
  std::vector<std::string> keys;
  if (services.empty()) {
    if (levels.empty()) return {std::string(kQueueBindingKey)};
    for (const auto& l : levels) keys.push_back("#." + l);
    return keys;
  }
  for (const auto& s : services) {
    const std::string word(std::string_view(s).substr(0, kMaxServiceKeyBytes));
    if (levels.empty()) {
      keys.push_back(word + ".*");
    } else {
      for (const auto& l : levels) keys.push_back(fmt::format("{}.{}", word, l));
    }
  }
  return keys;
}

std::optional<std::string> existingExchangeType(std::string_view refusal) {
  if (refusal.find("inequivalent arg 'type'") == std::string_view::npos) return std::nullopt;
  constexpr std::string_view kCurrent = "current is '";
  const size_t at = refusal.find(kCurrent);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = refusal.substr(at + kCurrent.size());
  const size_t end = rest.find('\'');
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  return std::string(rest.substr(0, end));
}

bool routesEveryKey(std::string_view exchangeType) {
  return exchangeType == "topic" || exchangeType == "fanout" || exchangeType == "headers";
}

std::vector<QueueArgument> queueArguments(const QueueDeclaration& declaration) {
  std::vector<QueueArgument> args;
  if (declaration.type == QueueType::Classic) return args;
  args.push_back({"x-queue-type", std::string(queueTypeName(declaration.type))});
  if (declaration.type == QueueType::Quorum) {
    args.push_back({"x-queue-leader-locator", "balanced"});
    return args;
  }
  if (!declaration.streamMaxAge.empty()) args.push_back({"x-max-age", declaration.streamMaxAge});
  if (declaration.streamMaxBytes > 0) {
    const auto bytes = static_cast<int64_t>(std::min<uint64_t>(declaration.streamMaxBytes, INT64_MAX));
    args.push_back({"x-max-length-bytes", "", bytes, false});
  }
  return args;
}

std::string_view queueTypeName(QueueType type) {
  switch (type) {
    case QueueType::Quorum: return "quorum";
    case QueueType::Stream: return "stream";
    case QueueType::Classic: break;
  }
  return "classic";
}

}  // namespace logship::amqp
