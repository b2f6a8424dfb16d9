#pragma once
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace logship {

// Resolves `host` and connects to the first address that accepts within `timeout` (each address
// gets the whole timeout). Returns a connected, non-blocking, close-on-exec socket with TCP_NODELAY.
// Throws ConnectionError with the precise reason ("Connection refused", "timed out", "unknown host").
int connectTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// The reason of a handshake that got no answer: the TCP connection was accepted (so the port is
// open), but nothing answered as `protocol` within --connect-timeout. Names the URL (`where`,
// redacted), the likely causes and the flag: "no answer from redis://127.0.0.1:5000 within 5 s
// (--connect-timeout): ...".
std::string noHandshakeAnswer(const std::string& where, std::string_view protocol, std::chrono::milliseconds timeout);

// A duration as the timeval that socket and client-library timeouts take.
inline timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace logship
