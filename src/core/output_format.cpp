#include "core/output_format.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "core/escape.hpp"
#include "core/timestamp.hpp"

namespace logship {
namespace {

// The json format's keys, in the order they are written.
constexpr std::string_view kKeyTs = "ts";
constexpr std::string_view kKeyLevel = "level";
constexpr std::string_view kKeyService = "service";
constexpr std::string_view kKeyHost = "host";
constexpr std::string_view kKeyMessage = "message";
constexpr std::string_view kKeyFields = "fields";

// What stands between the values of a json line (the reader compares these whole; constant sizes
// let the compiler inline the compares). Checked against the keys above.
constexpr std::string_view kJsonOpen = "{\"ts\":\"";
constexpr std::string_view kJsonBeforeLevel = "\",\"level\":\"";
constexpr std::string_view kJsonBeforeService = "\",\"service\":\"";
constexpr std::string_view kJsonBeforeHost = "\",\"host\":\"";
constexpr std::string_view kJsonBeforeMessage = "\",\"message\":\"";
constexpr std::string_view kJsonBeforeFields = ",\"fields\":{";
static_assert(kJsonOpen.substr(2, 2) == kKeyTs && kJsonBeforeLevel.substr(3, 5) == kKeyLevel &&
              kJsonBeforeService.substr(3, 7) == kKeyService && kJsonBeforeHost.substr(3, 4) == kKeyHost &&
              kJsonBeforeMessage.substr(3, 7) == kKeyMessage && kJsonBeforeFields.substr(2, 6) == kKeyFields);

// The text format's separators.
constexpr std::string_view kFieldsSeparator = " |";  // then " KEY=VALUE" per field

// The text format's parts, each escaped (appendEscaped) and with the separators that could end it
// early written as \xHH (docs/FORMATS.md, "Output formats", text): a service or host holds no ' ' or '@', a field
// key no ' ' or '=', a message no " |" (appendEscapedMessage), a field value no ' ' before an '='
// and no " |".
void appendTextName(std::string& out, std::string_view name) { appendEscapedHexing(out, name, " @"); }

void appendTextFieldKey(std::string& out, std::string_view key) { appendEscapedHexing(out, key, " ="); }

// Whether the ' ' or '|' at `pos` of a field value must be escaped: a ' ' before the value's last
// '=' (" WORD=" would read as the next field, and an escaped space joins the words around it), a
// '|' after a ' ' (it would read as " | ").
bool valueSeparatorAt(std::string_view value, size_t pos) {
  if (value[pos] == '|') return pos > 0 && value[pos - 1] == ' ';
  const size_t lastEquals = value.rfind('=');
  return lastEquals != std::string_view::npos && pos < lastEquals;
}

void appendTextFieldValue(std::string& out, std::string_view value) {
  appendEscapedHexing(out, value, " |", valueSeparatorAt);
}

// What appendTimestamp writes: d is a digit, every other byte is itself.
constexpr std::string_view kTimestampShape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
static_assert(kTimestampShape.size() == kTimestampWidth);

bool hasTimestampShape(std::string_view t) {
  if (t.size() != kTimestampWidth) return false;
  for (size_t i = 0; i < kTimestampWidth; ++i) {
    const char want = kTimestampShape[i];
    const char c = t[i];
    if (want == 'd' ? (c < '0' || c > '9') : c != want) return false;
  }
  return true;
}

std::string jsonDump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Appends `value` as the contents of a JSON string (without the quotes), as the json format writes
// it: nlohmann's escaping (invalid UTF-8 becomes U+FFFD), then appendJsonSafe.
void appendJsonStringContents(std::string& out, std::string_view value) {
  const std::string quoted = jsonDump(nlohmann::ordered_json(value));
  appendJsonSafe(out, std::string_view(quoted).substr(1, quoted.size() - 2));
}

// ---- text ----

bool levelFromLabel(std::string_view label, Level& level) {
  Level l;
  switch (label[0]) {
    case 'T': l = Level::Trace; break;
    case 'D': l = Level::Debug; break;
    case 'I': l = Level::Info; break;
    case 'W': l = Level::Warn; break;
    case 'E': l = Level::Error; break;
    case 'F': l = Level::Fatal; break;
    default: return false;
  }
  if (label != levelLabel(l)) return false;
  level = l;
  return true;
}

// Only the canonical names the json format writes (no aliases, no other case).
bool levelFromName(std::string_view name, Level& level) {
  for (Level l : {Level::Info, Level::Warn, Level::Error, Level::Debug, Level::Trace, Level::Fatal}) {
    if (levelName(l) == name) {
      level = l;
      return true;
    }
  }
  return false;
}

bool parseText(std::string_view line, LineParts& parts) {
  // TIMESTAMP ' ' LABEL(5) ' ' SERVICE '@' HOST ' ' MESSAGE
  constexpr size_t kLabelAt = kTimestampWidth + 1;
  constexpr size_t kLabelWidth = 5;
  constexpr size_t kNamesAt = kLabelAt + kLabelWidth + 1;
  if (line.size() < kNamesAt + 2 || line[kTimestampWidth] != ' ' || line[kNamesAt - 1] != ' ') return false;
  if (!hasTimestampShape(line.substr(0, kTimestampWidth))) return false;
  if (!levelFromLabel(line.substr(kLabelAt, kLabelWidth), parts.level)) return false;
  const char* begin = line.data();
  const char* end = begin + line.size();
  const char* names = begin + kNamesAt;
  const auto* at = static_cast<const char*>(std::memchr(names, '@', static_cast<size_t>(end - names)));
  if (at == nullptr) return false;
  const auto* space = static_cast<const char*>(std::memchr(at + 1, ' ', static_cast<size_t>(end - at - 1)));
  if (space == nullptr) return false;
  parts.timestamp = line.substr(0, kTimestampWidth);
  parts.service = std::string_view(names, static_cast<size_t>(at - names));
  parts.host = std::string_view(at + 1, static_cast<size_t>(space - at - 1));
  parts.message = std::string_view(space + 1, static_cast<size_t>(end - space - 1));
  parts.fields = {};
  return true;
}

// Length of "KEY=" at `pos` (KEY without ' ' or '=', maybe empty), or 0.
size_t fieldKeyAt(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size() && s[i] != ' ' && s[i] != '=') ++i;
  return i < s.size() && s[i] == '=' ? i - pos + 1 : 0;
}

// Splits "KEY=VALUE KEY=VALUE ..." (escaped) into fields; false unless it starts with a key.
bool splitFieldList(std::string_view list, std::vector<Field>& fields) {
  if (fieldKeyAt(list, 0) == 0) return false;
  size_t start = 0;
  while (start < list.size()) {
    const size_t keyLen = fieldKeyAt(list, start);
    size_t next = list.size();
    for (size_t i = start + keyLen; i < list.size(); ++i) {
      if (list[i] == ' ' && fieldKeyAt(list, i + 1) > 0) {
        next = i;
        break;
      }
    }
    Field& f = fields.emplace_back();
    appendUnescaped(f.key, list.substr(start, keyLen - 1));
    appendUnescaped(f.value, list.substr(start + keyLen, next - start - keyLen));
    start = next + 1;
  }
  return true;
}

// ---- json ----

// Index of the quote that ends the JSON string whose contents start at `from`, or npos.
size_t jsonStringEnd(std::string_view s, size_t from) {
  size_t pos = from;
  for (;;) {
    const size_t quote = s.find('"', pos);
    if (quote == std::string_view::npos) return quote;
    size_t backslashes = 0;
    while (quote - backslashes > from && s[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote;
    pos = quote + 1;
  }
}

class JsonLineReader {
 public:
  explicit JsonLineReader(std::string_view line) : s_(line) {}
  bool literal(std::string_view lit) {
    if (s_.size() - pos_ < lit.size() || s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // The rest of a string whose opening quote was read: its contents (still escaped).
  bool stringRest(std::string_view& contents) {
    const size_t end = jsonStringEnd(s_, pos_);
    if (end == std::string_view::npos) return false;
    contents = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool string(std::string_view& contents) { return literal("\"") && stringRest(contents); }
  // A string ending at the next quote, with no escape in it (timestamp, level name).
  bool plainStringRest(std::string_view& contents) {
    const size_t end = s_.find('"', pos_);
    if (end == std::string_view::npos) return false;
    contents = s_.substr(pos_, end - pos_);
    pos_ = end;  // the closing quote starts the next separator
    return true;
  }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  size_t pos() const { return pos_; }
  bool atEnd() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

bool parseJson(std::string_view line, LineParts& parts) {
  JsonLineReader r(line);
  std::string_view level;
  // {"ts":"T","level":"L","service":"S","host":"H","message":"M"[,"fields":{...}]}
  if (!r.literal(kJsonOpen) || !r.plainStringRest(parts.timestamp) || !hasTimestampShape(parts.timestamp) ||
      !r.literal(kJsonBeforeLevel) || !r.plainStringRest(level) || !levelFromName(level, parts.level) ||
      !r.literal(kJsonBeforeService) || !r.stringRest(parts.service) || !r.literal(kJsonBeforeHost.substr(1)) ||
      !r.stringRest(parts.host) || !r.literal(kJsonBeforeMessage.substr(1)) || !r.stringRest(parts.message)) {
    return false;
  }
  parts.fields = {};
  if (r.literal(kJsonBeforeFields)) {
    const size_t start = r.pos() - 1;
    if (!r.peek('}')) {
      for (;;) {
        std::string_view k, v;
        if (!r.string(k) || !r.literal(":") || !r.string(v)) return false;
        if (r.literal(",")) continue;
        break;
      }
    }
    if (!r.literal("}")) return false;
    parts.fields = line.substr(start, r.pos() - start);
  }
  return r.literal("}") && r.atEnd();
}

std::string jsonDecode(std::string_view contents) {
  std::string quoted;
  quoted.reserve(contents.size() + 2);
  quoted += '"';
  quoted.append(contents);
  quoted += '"';
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace

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
  LineFormatter formatter(format);
  formatter.setMetadata(record);
  formatter.append(out, record.timestampUs, record.message);
}

void LineFormatter::setMetadata(const Record& record) {
  // Messages in a row mostly come from the same producer: reuse what was made for the last one.
  if (haveMetadata_ && record.level == level_ && record.service == service_ && record.host == host_ &&
      record.fields == fields_) {
    return;
  }
  haveMetadata_ = true;
  level_ = record.level;
  service_ = record.service;
  host_ = record.host;
  fields_ = record.fields;
  middle_.clear();
  suffix_.clear();
  switch (format_) {
    case OutputFormat::Raw: break;
    case OutputFormat::Text:
      middle_ += ' ';
      middle_ += levelLabel(record.level);
      middle_ += ' ';
      appendTextName(middle_, record.service);
      middle_ += '@';
      appendTextName(middle_, record.host);
      middle_ += ' ';
      if (!record.fields.empty()) {
        suffix_ += kFieldsSeparator;
        for (const auto& f : record.fields) {
          suffix_ += ' ';
          appendTextFieldKey(suffix_, f.key);
          suffix_ += '=';
          appendTextFieldValue(suffix_, f.value);
        }
      }
      break;
    case OutputFormat::Json: {
      // One object per line, compact: {"ts":"..","level":"..","service":"..","host":"..","message":".."
      // [,"fields":{..}]}, every string as nlohmann dumps it and then made safe by appendJsonSafe
      // (which works code point by code point, so it may be applied part by part).
      middle_ += kJsonBeforeLevel;
      middle_ += levelName(record.level);
      middle_ += kJsonBeforeService;
      appendJsonStringContents(middle_, record.service);
      middle_ += kJsonBeforeHost;
      appendJsonStringContents(middle_, record.host);
      middle_ += kJsonBeforeMessage;
      suffix_ += '"';
      if (!record.fields.empty()) {
        nlohmann::ordered_json fields = nlohmann::ordered_json::object();
        for (const auto& f : record.fields) fields[f.key] = f.value;
        suffix_ += kJsonBeforeFields.substr(0, kJsonBeforeFields.size() - 1);
        appendJsonSafe(suffix_, jsonDump(fields));
      }
      suffix_ += '}';
      break;
    }
  }
}

void LineFormatter::appendTimestamp(std::string& out, int64_t timestampUs) {
  int64_t secs = timestampUs / 1'000'000;
  int64_t frac = timestampUs % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  if (secs != second_) {
    secondText_.clear();
    logship::appendTimestamp(secondText_, secs * 1'000'000);
    secondText_.resize(kTimestampWidth - 7);  // "YYYY-MM-DDTHH:MM:SS."
    second_ = secs;
  }
  char tail[7];
  for (int i = 5; i >= 0; --i) {
    tail[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  tail[6] = 'Z';
  out += secondText_;
  out.append(tail, sizeof tail);
}

void LineFormatter::append(std::string& out, int64_t timestampUs, std::string_view message) {
  switch (format_) {
    case OutputFormat::Raw: appendEscaped(out, message); break;
    case OutputFormat::Text:
      appendTimestamp(out, timestampUs);
      out += middle_;
      appendEscapedMessage(out, message);
      out += suffix_;
      break;
    case OutputFormat::Json:
      out += kJsonOpen;
      appendTimestamp(out, timestampUs);
      out += middle_;
      appendJsonStringContents(out, message);
      out += suffix_;
      break;
  }
  out += '\n';
}

bool parseLine(OutputFormat format, std::string_view line, LineParts& parts) {
  switch (format) {
    case OutputFormat::Text: return parseText(line, parts);
    case OutputFormat::Json: return parseJson(line, parts);
    case OutputFormat::Raw:
      parts = LineParts{};
      parts.message = line;
      return true;
  }
  return false;
}

std::string encodeForLine(OutputFormat format, std::string_view value) {
  if (format == OutputFormat::Json) {
    std::string out;
    appendJsonStringContents(out, value);
    return out;
  }
  std::string out;
  appendTextName(out, value);
  return out;
}

void decodeLinePart(OutputFormat format, std::string_view part, std::string& out) {
  if (format != OutputFormat::Json) {
    appendUnescaped(out, part);
  } else if (part.find('\\') == std::string_view::npos) {
    out.append(part);  // nothing escaped: no JSON parse (the scanner calls this per line)
  } else {
    out += jsonDecode(part);
  }
}

Record recordFromLine(OutputFormat format, const LineParts& parts) {
  Record r;
  if (format == OutputFormat::Raw) {
    appendUnescaped(r.message, parts.message);
    return r;
  }
  r.timestampUs = parseTimestamp(parts.timestamp).value_or(0);
  r.level = parts.level;
  r.service.clear();
  r.host.clear();
  if (format == OutputFormat::Json) {
    r.service = jsonDecode(parts.service);
    r.host = jsonDecode(parts.host);
    r.message = jsonDecode(parts.message);
    if (!parts.fields.empty()) {
      const auto fields = nlohmann::ordered_json::parse(parts.fields);
      for (const auto& [k, v] : fields.items()) r.fields.push_back({k, v.get<std::string>()});
    }
    return r;
  }
  appendUnescaped(r.service, parts.service);
  appendUnescaped(r.host, parts.host);
  // The fields start at the last " | " that is followed by KEY=VALUE pairs.
  std::string_view message = parts.message;
  const std::string separator = std::string(kFieldsSeparator) + ' ';
  for (size_t at = message.rfind(separator); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : message.rfind(separator, at - 1)) {
    std::vector<Field> fields;
    if (splitFieldList(message.substr(at + separator.size()), fields)) {
      r.fields = std::move(fields);
      message = message.substr(0, at);
      break;
    }
  }
  appendUnescaped(r.message, message);
  return r;
}

}  // namespace logship
