#include "producer/input/record_fields.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

namespace logship {
namespace {

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view cutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace

void appendFieldKey(std::string& out, std::string_view key) {
  const size_t start = out.size();
  for (unsigned char c : key.substr(0, kMaxFieldKeyBytes)) out.push_back(fieldKeyByte(c) ? static_cast<char>(c) : '_');
  if (out.size() == start) out.push_back('_');
}

void assignName(std::string& out, std::string_view name) {
  if (name.empty()) {
    out.assign("-");
  } else {
    out.assign(cutUtf8(name, kMaxServiceHostBytes));
  }
}

FieldBuilder::FieldBuilder(Record& record, const Record& source)
    : record_(record), sourceFields_(source.fields.size()) {
  if (&record != &source) record_.fields = source.fields;
}

void FieldBuilder::add(std::string_view key, std::string_view value) {
  key_.clear();
  appendFieldKey(key_, key);
  addSanitized(key_, value);
}

void FieldBuilder::add(std::string_view prefix, std::string_view key, std::string_view value) {
  key_.clear();
  appendFieldKey(key_, prefix);
  appendFieldKey(key_, key);
  if (key_.size() > kMaxFieldKeyBytes) key_.resize(kMaxFieldKeyBytes);
  addSanitized(key_, value);
}

bool FieldBuilder::has(std::string_view key) const {
  if (!index_.empty()) return index_.contains(std::string(key));
  return std::any_of(record_.fields.begin(), record_.fields.end(), [key](const Field& f) { return f.key == key; });
}

void FieldBuilder::remember(const std::string& key) {
  if (index_.empty() && record_.fields.size() < kLinearFields) return;
  if (index_.empty()) {
    for (const auto& f : record_.fields) index_.insert(f.key);
  }
  index_.insert(key);
}

void FieldBuilder::addSanitized(std::string& key, std::string_view value) {
  auto& fields = record_.fields;
  // A default of the source with this key is replaced (defaults are few: searched one by one).
  for (size_t i = 0; i < sourceFields_; ++i) {
    if (fields[i].key != key) continue;
    if (bytes_ + key.size() + value.size() > kMaxFieldBytes) {
      ++dropped_;
      return;
    }
    bytes_ += key.size() + value.size();
    // Moved behind the defaults with its new value, so that a second field with this key gets a suffix.
    Field moved{std::move(fields[i].key), std::string(value)};
    fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(i));
    --sourceFields_;
    fields.push_back(std::move(moved));
    return;
  }
  if (has(key)) {
    const size_t base = std::min(key.size(), kMaxFieldKeyBytes - 12);
    for (unsigned n = 2;; ++n) {
      key.resize(base);
      fmt::format_to(std::back_inserter(key), "_{}", n);
      if (!has(key)) break;
    }
  }
  if (bytes_ + key.size() + value.size() > kMaxFieldBytes) {
    ++dropped_;
    return;
  }
  bytes_ += key.size() + value.size();
  remember(key);
  fields.push_back({key, std::string(value)});
}

void FieldBuilder::finish() {
  if (dropped_ == 0) return;
  key_.assign(kFieldsDroppedField);
  const std::string count = std::to_string(dropped_);
  dropped_ = 0;
  bytes_ = 0;  // the count always fits
  addSanitized(key_, count);
}

}  // namespace logship
