// logctl dead: list, show, requeue and purge the dead letters of a queue (NAME.dead). The broker
// side is Admin (broker/admin.hpp); this file is the terminal side: selection, output, confirmation.
#include <fnmatch.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "broker/factory.hpp"
#include "core/compress.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"
#include "ctl/commands.hpp"

namespace logship::ctl {
namespace {

constexpr size_t kPreviewBytes = 60;

std::string_view header(const Message& m, std::string_view key) {
  for (const Header& h : m.headers) {
    if (h.key == key) return h.value;
  }
  return {};
}

// The record's time (logship-ts), else the AMQP timestamp property; "" when neither.
std::string timeOf(const Message& m) {
  const std::string_view ts = header(m, wire::kTimestamp);
  int64_t us = 0;
  if (!ts.empty()) {
    for (char c : ts) {
      if (c < '0' || c > '9') return escaped(ts);
      us = us * 10 + (c - '0');
    }
    return formatTimestamp(us);
  }
  return m.timestampUs > 0 ? formatTimestamp(m.timestampUs) : std::string();
}

// The text of a dead letter's body: a compressed batch's inflated (one that does not inflate, which
// may be why it is here, shows as the bytes it is).
std::string_view textOf(const Message& m, std::string& buffer) {
  std::string_view text;
  std::string error;
  return inflatedBody(m.body, m.headers, buffer, text, error) ? text : std::string_view(m.body);
}

// The first bytes of the body's text, escaped: no control character reaches the terminal.
std::string preview(const Message& m) {
  std::string buffer;
  const std::string_view body = textOf(m, buffer);
  if (body.size() <= kPreviewBytes) return escaped(body);
  size_t cut = kPreviewBytes;
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return escaped(body.substr(0, cut)) + "...";
}

nlohmann::ordered_json summaryJson(const DeadLetter& d) {
  const Message& m = d.message;
  return {{"position", d.position},
          {"id", header(m, wire::kId)},
          {"time", timeOf(m)},
          {"reason", header(m, wire::kDeadReason)},
          {"queue", header(m, wire::kDeadQueue)},
          {"bytes", m.body.size()},
          {"preview", preview(m)}};
}

std::string dumpJson(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Which dead letters a command applies to: position N, --id, --reason (a glob), else all.
struct Selection {
  uint64_t position = 0;
  std::string id;
  std::string reason;
  bool matches(const DeadLetter& d) const {
    if (position != 0 && d.position != position) return false;
    if (!id.empty() && header(d.message, wire::kId) != id) return false;
    if (!reason.empty()) {
      const std::string r(header(d.message, wire::kDeadReason));
      if (::fnmatch(reason.c_str(), r.c_str(), 0) != 0) return false;
    }
    return true;
  }
};

int list(Admin& admin, const std::string& queue, const DeadRequest& request, const Selection& selection) {
  const uint64_t total = admin.queueStats(deadLetterQueueName(queue)).messagesReady;
  const uint64_t limit = request.limit == 0 ? 100 : request.limit;
  uint64_t shown = 0;
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  if (!request.json)
    fmt::print("{:>6}  {:<27}  {:<24}  {:>8}  {} | {}\n", "#", "TIME", "ID", "BYTES", "REASON", "BODY");
  admin.peekDeadLetters(queue, [&](const DeadLetter& d) {
    if (!selection.matches(d)) return true;
    if (request.json) {
      array.push_back(summaryJson(d));
    } else {
      const Message& m = d.message;
      const std::string id = escaped(header(m, wire::kId));
      const std::string time = timeOf(m);
      fmt::print("{:>6}  {:<27}  {:<24}  {:>8}  {} | {}\n", d.position, time.empty() ? "-" : time,
                 id.empty() ? "-" : id, m.body.size(), escaped(header(m, wire::kDeadReason)), preview(m));
    }
    return ++shown < limit;
  });
  if (request.json) {
    fmt::print("{}\n", dumpJson(array));
  } else {
    const bool all = selection.position == 0 && selection.id.empty() && selection.reason.empty();
    fmt::print("{} of {} dead letter(s) in '{}'{}\n", shown, std::max(total, shown),
               escaped(deadLetterQueueName(queue)),
               shown == limit && shown < total ? fmt::format(" (--limit {})", limit)
               : all                           ? ""
                                               : " (selected)");
  }
  return 0;
}

int show(Admin& admin, const std::string& queue, const DeadRequest& request, const Selection& selection) {
  if (selection.position == 0 && selection.id.empty()) throw UsageError("dead show: give a position N or --id ID");
  bool found = false;
  admin.peekDeadLetters(queue, [&](const DeadLetter& d) {
    if (!selection.matches(d)) return selection.position == 0 || d.position < selection.position;
    found = true;
    const Message& m = d.message;
    if (request.json) {
      nlohmann::ordered_json headers = nlohmann::ordered_json::array();
      for (const Header& h : m.headers) headers.push_back({{"key", h.key}, {"value", h.value}, {"string", h.isString}});
      nlohmann::ordered_json j = summaryJson(d);
      j.erase("preview");
      j["headers"] = headers;
      std::string buffer;
      j["body"] = std::string(textOf(m, buffer));
      fmt::print("{}\n", dumpJson(j));
      return false;
    }
    fmt::print("position: {}\n", d.position);
    if (m.timestampUs > 0) fmt::print("timestamp property: {}\n", formatTimestamp(m.timestampUs));
    for (const Header& h : m.headers) {
      fmt::print("{}: {}{}\n", escaped(h.key), escaped(h.value), h.isString ? "" : " (not a string)");
    }
    std::string buffer;
    const std::string_view body = textOf(m, buffer);
    fmt::print("body: {} bytes{}\n", m.body.size(),
               body.data() != m.body.data() ? fmt::format(" (zstd; {} bytes inflated)", body.size()) : "");
    size_t start = 0;
    while (start <= body.size()) {  // line by line, each escaped
      const size_t end = std::min(body.find('\n', start), body.size());
      fmt::print("  {}\n", escaped(body.substr(start, end - start)));
      start = end + 1;
    }
    return false;
  });
  if (!found) {
    fmt::print(stderr, "logctl: no dead letter {} in '{}'\n",
               selection.position != 0 ? fmt::format("at position {}", selection.position)
                                       : fmt::format("with id '{}'", escaped(selection.id)),
               escaped(deadLetterQueueName(queue)));
    return 1;
  }
  return 0;
}

}  // namespace

int dead(const BrokerOptions& broker, const std::string& queue, const DeadRequest& request) {
  Selection selection{request.position, request.id, request.reason};
  const std::string deadQueue = escaped(deadLetterQueueName(queue));
  if (request.action == "purge" && (selection.position != 0 || !selection.id.empty() || !selection.reason.empty())) {
    throw UsageError("dead purge removes every dead letter: it takes no N, --id or --reason (requeue selects)");
  }
  if (request.action == "purge" && !request.yes) {
    throw UsageError(fmt::format("dead purge deletes every dead letter in '{}' for good: add --yes", deadQueue));
  }
  if (request.action != "list" && request.action != "show" && request.action != "requeue" &&
      request.action != "purge") {
    throw UsageError(fmt::format("dead: unknown action '{}' (list, show, requeue, purge)", escaped(request.action)));
  }
  auto admin = makeAdmin(broker);
  if (request.action == "list") return list(*admin, queue, request, selection);
  if (request.action == "show") return show(*admin, queue, request, selection);
  if (request.action == "purge") {
    fmt::print("removed {} dead letter(s) from '{}'\n", admin->purgeDeadLetters(queue), deadQueue);
    return 0;
  }
  const uint64_t moved = admin->requeueDeadLetters(
      queue, [&](const DeadLetter& d) { return selection.matches(d); }, request.limit);
  fmt::print("moved {} dead letter(s) from '{}' back to '{}'\n", moved, deadQueue, escaped(queue));
  return 0;
}

}  // namespace logship::ctl
