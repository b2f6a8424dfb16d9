#pragma once
// An spdlog sink that ships every message it gets through a logship::Client.
//
//   auto client = std::make_shared<logship::Client>(options);
//   auto sink = std::make_shared<logship::spdlog_sink_mt>(client);
//   auto logger = std::make_shared<spdlog::logger>("payments", sink);
//   SPDLOG_LOGGER_WARN(logger, "card {} declined", card);  // a record with file, line and func
//
// Each message becomes one record:
// - level: trace, debug, info, warn, err -> error, critical -> fatal;
// - message: the message's own text (spdlog's payload), not the formatted line: the record already
//   carries its time, level, service and host, which the aggregator formats itself, so the sink's
//   pattern (set_pattern, set_formatter) is not used;
// - time: the time spdlog stamped the message with;
// - service: ClientOptions::service (the application); the logger's name goes into the field
//   `logger` (loggers are usually the parts of one application). With
//   SpdlogSinkOptions::loggerAsService the logger's name is the service instead;
// - fields: ClientOptions::fields, then `logger`, then, when the message has a source location
//   (the SPDLOG_LOGGER_* macros, or spdlog::source_loc), `file`, `line` and `func`.
//
// The sink never blocks the logger with OverflowPolicy::Drop (a full queue drops, counted in the
// client's stats()) and never throws. flush() (logger->flush(), flush_on(level)) waits for the
// broker's confirms, at most SpdlogSinkOptions::flushTimeout. The sink holds a shared_ptr to its
// client, so the client lives as long as any logger that uses it; it is flushed and closed at
// program exit whoever holds it (<logship/client.hpp>).
//
// This header includes spdlog (the application chose it) but nothing of Logship's internals: link
// logship::spdlog_sink (logship::client + spdlog::spdlog).
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <spdlog/details/log_msg.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <logship/client.hpp>

namespace logship {

struct SpdlogSinkOptions {
  bool loggerAsService = false;                   // the logger's name is the record's service
  bool sourceLocation = true;                     // add file, line and func when spdlog has them
  std::chrono::milliseconds flushTimeout{5'000};  // sink flush: wait for the broker this long at most
};

// The spdlog level of a message as a Logship level (level::off never reaches a sink).
inline Level levelFromSpdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return Level::Trace;
    case spdlog::level::debug: return Level::Debug;
    case spdlog::level::info: return Level::Info;
    case spdlog::level::warn: return Level::Warn;
    case spdlog::level::err: return Level::Error;
    case spdlog::level::critical: return Level::Fatal;
    default: return Level::Info;
  }
}

template <typename Mutex>
class spdlog_sink final : public spdlog::sinks::base_sink<Mutex> {
 public:
  explicit spdlog_sink(std::shared_ptr<Client> client, SpdlogSinkOptions options = {})
      : client_(std::move(client)), options_(options) {}

  const std::shared_ptr<Client>& client() const { return client_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!client_) return;
    FieldView fields[4];
    std::size_t n = 0;
    const std::string_view loggerName(msg.logger_name.data(), msg.logger_name.size());
    if (!options_.loggerAsService && !loggerName.empty()) fields[n++] = {"logger", loggerName};
    if (options_.sourceLocation && !msg.source.empty()) {
      lineText_ = std::to_string(msg.source.line);
      fields[n++] = {"file", msg.source.filename};
      fields[n++] = {"line", lineText_};
      if (msg.source.funcname != nullptr) fields[n++] = {"func", msg.source.funcname};
    }
    LogEntry entry;
    entry.level = levelFromSpdlog(msg.level);
    entry.message = std::string_view(msg.payload.data(), msg.payload.size());
    entry.fields = std::span<const FieldView>(fields, n);
    if (options_.loggerAsService) entry.service = loggerName;
    entry.time = msg.time;
    client_->log(entry);
  }

  void flush_() override {
    if (client_) client_->flush(options_.flushTimeout);
  }

 private:
  std::shared_ptr<Client> client_;
  SpdlogSinkOptions options_;
  std::string lineText_;  // guarded by the sink's mutex, like every call of sink_it_
};

using spdlog_sink_mt = spdlog_sink<std::mutex>;
using spdlog_sink_st = spdlog_sink<spdlog::details::null_mutex>;

}  // namespace logship
