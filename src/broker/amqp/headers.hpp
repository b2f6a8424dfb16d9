#pragma once
// Conversion between the broker-neutral headers (core/message.hpp) and AMQP field tables.
#include <amqp.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/message.hpp"

namespace logship::amqp {

// Builds an amqp_table_t that points into `headers`: valid while `headers` and this object live.
class HeaderTable {
 public:
  void assign(std::span<const Header> headers);
  amqp_table_t table() { return amqp_table_t{static_cast<int>(entries_.size()), entries_.data()}; }

 private:
  std::vector<amqp_table_entry_t> entries_;
};

// Appends one Header per table entry; values that are not strings get isString=false and a
// description such as "an integer (5)".
void readHeaders(const amqp_table_t& table, std::vector<Header>& out);

// The value of the integer entry `key` (any AMQP integer kind), nullopt if there is none or it
// is not a non-negative integer. E.g. a quorum queue's x-delivery-count.
std::optional<uint64_t> integerEntry(const amqp_table_t& table, std::string_view key);

}  // namespace logship::amqp
