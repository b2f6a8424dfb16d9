#include "broker/amqp/headers.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace logship::amqp {
namespace {

amqp_bytes_t bytesOf(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string describe(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_BOOLEAN: return fmt::format("a boolean ({})", v.value.boolean != 0);
    case AMQP_FIELD_KIND_I8: return fmt::format("an integer ({})", v.value.i8);
    case AMQP_FIELD_KIND_U8: return fmt::format("an integer ({})", v.value.u8);
    case AMQP_FIELD_KIND_I16: return fmt::format("an integer ({})", v.value.i16);
    case AMQP_FIELD_KIND_U16: return fmt::format("an integer ({})", v.value.u16);
    case AMQP_FIELD_KIND_I32: return fmt::format("an integer ({})", v.value.i32);
    case AMQP_FIELD_KIND_U32: return fmt::format("an integer ({})", v.value.u32);
    case AMQP_FIELD_KIND_I64: return fmt::format("an integer ({})", v.value.i64);
    case AMQP_FIELD_KIND_U64: return fmt::format("an integer ({})", v.value.u64);
    case AMQP_FIELD_KIND_TIMESTAMP: return fmt::format("a timestamp ({})", v.value.u64);
    case AMQP_FIELD_KIND_F32: return fmt::format("a float ({})", v.value.f32);
    case AMQP_FIELD_KIND_F64: return fmt::format("a float ({})", v.value.f64);
    case AMQP_FIELD_KIND_DECIMAL: return "a decimal";
    case AMQP_FIELD_KIND_ARRAY: return "an array";
    case AMQP_FIELD_KIND_TABLE: return "a table";
    case AMQP_FIELD_KIND_VOID: return "void";
    default: return fmt::format("a value of kind '{}'", static_cast<char>(v.kind));
  }
}

}  // namespace

void HeaderTable::assign(std::span<const Header> headers) {
  entries_.resize(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    entries_[i].key = bytesOf(headers[i].key);
    entries_[i].value.kind = AMQP_FIELD_KIND_UTF8;
    entries_[i].value.value.bytes = bytesOf(headers[i].value);
  }
}

void readHeaders(const amqp_table_t& table, std::vector<Header>& out) {
  out.reserve(out.size() + static_cast<size_t>(std::max(table.num_entries, 0)));
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    Header h;
    h.key.assign(static_cast<const char*>(e.key.bytes), e.key.len);
    if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
      h.value.assign(static_cast<const char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
    } else {
      h.isString = false;
      h.value = describe(e.value);
    }
    out.push_back(std::move(h));
  }
}

std::optional<uint64_t> integerEntry(const amqp_table_t& table, std::string_view key) {
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    if (std::string_view(static_cast<const char*>(e.key.bytes), e.key.len) != key) continue;
    const amqp_field_value_t& v = e.value;
    int64_t n = -1;
    switch (v.kind) {
      case AMQP_FIELD_KIND_I8: n = v.value.i8; break;
      case AMQP_FIELD_KIND_U8: n = v.value.u8; break;
      case AMQP_FIELD_KIND_I16: n = v.value.i16; break;
      case AMQP_FIELD_KIND_U16: n = v.value.u16; break;
      case AMQP_FIELD_KIND_I32: n = v.value.i32; break;
      case AMQP_FIELD_KIND_U32: n = v.value.u32; break;
      case AMQP_FIELD_KIND_I64: n = v.value.i64; break;
      case AMQP_FIELD_KIND_U64: return v.value.u64;
      default: return std::nullopt;
    }
    if (n < 0) return std::nullopt;
    return static_cast<uint64_t>(n);
  }
  return std::nullopt;
}

}  // namespace logship::amqp
