#pragma once
// How a Message travels as one Redis string (docs/FORMATS.md, "Redis envelope").
//
//   envelope = %xFF "LS1" *(SP key "=" value) LF body
//
// A string is an envelope exactly when it starts with the bytes FF 'L' 'S'. FF never occurs in
// UTF-8, so no text pushed by another client (`redis-cli RPUSH logs_queue "text"`) is ever taken
// for one: such a string is a plain record whose message is the whole string.
// Keys are header keys without their "logship-" prefix (other keys, and "logship-" itself, are
// written with a leading '+'); keys and values are percent-encoded where they hold a byte <= 0x20, DEL or '%' (keys
// also
// '=' and '+'). The body follows the first LF unchanged.
#include <string>
#include <string_view>
#include <vector>

#include "core/message.hpp"

namespace logship::redis {

inline constexpr std::string_view kEnvelopeMagic = "\xFFLS";
inline constexpr std::string_view kEnvelopeVersion = "1";

// Replaces `out` with the Redis form of `message`. A message without headers whose body cannot be
// mistaken for an envelope is sent as the bare body, so plain clients read exactly the text.
void encodeEnvelope(const Message& message, std::string& out);

// Appends the header items of an envelope's first line: " key=value" for each header, encoded as
// encodeEnvelope() does (the Redis take script adds the dead-letter items to a value with them).
void appendHeaderItems(std::string& out, const std::vector<Header>& headers);

// Splits a Redis string into body and headers (a plain string: body = the string, no headers).
// Returns false with a one-line reason in `error` for a malformed envelope.
bool decodeEnvelope(std::string_view value, std::string& body, std::vector<Header>& headers, std::string& error);

}  // namespace logship::redis
