#include "core/output_format.hpp"

#include <nlohmann/json.hpp>

#include "core/escape.hpp"
#include "core/timestamp.hpp"

namespace logship {

std::optional<OutputFormat> parseOutputFormat(std::string_view name) {
  if (name == "text") return OutputFormat::Text;
  if (name == "raw") return OutputFormat::Raw;
  if (name == "json") return OutputFormat::Json;
  return std::nullopt;
}

std::string_view outputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::Text: return "text";
    case OutputFormat::Raw: return "raw";
    case OutputFormat::Json: return "json";
  }
  return "text";
}

void appendFormatted(std::string& out, OutputFormat format, const Record& record) {
  switch (format) {
    case OutputFormat::Raw:
      appendEscaped(out, record.message);
      break;
    case OutputFormat::Text:
      appendTimestamp(out, record.timestampUs);
      out += ' ';
      out += levelLabel(record.level);
      out += ' ';
      appendEscaped(out, record.service);
      out += '@';
      appendEscaped(out, record.host);
      out += ' ';
      appendEscaped(out, record.message);
      if (!record.fields.empty()) {
        out += " |";
        for (const auto& f : record.fields) {
          out += ' ';
          appendEscaped(out, f.key);
          out += '=';
          appendEscaped(out, f.value);
        }
      }
      break;
    case OutputFormat::Json: {
      nlohmann::ordered_json j;
      j["ts"] = formatTimestamp(record.timestampUs);
      j["level"] = levelName(record.level);
      j["service"] = record.service;
      j["host"] = record.host;
      j["message"] = record.message;
      if (!record.fields.empty()) {
        auto& fields = j["fields"] = nlohmann::ordered_json::object();
        for (const auto& f : record.fields) fields[f.key] = f.value;
      }
      // Invalid UTF-8 becomes U+FFFD; JSON escaping already covers every control character.
      appendJsonSafe(out, j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
      break;
    }
  }
  out += '\n';
}

}  // namespace logship
