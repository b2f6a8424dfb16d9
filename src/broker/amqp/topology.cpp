#include "broker/amqp/topology.hpp"

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
      for (const auto& l : levels) keys.push_back(word + "." + l);
    }
  }
  return keys;
}

}  // namespace logship::amqp
