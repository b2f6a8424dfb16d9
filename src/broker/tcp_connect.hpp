#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace logship {

// Resolves `host` and connects to the first address that accepts within `timeout` (each address
// gets the whole timeout). Returns a connected, non-blocking, close-on-exec socket with TCP_NODELAY.
// Throws ConnectionError with the precise reason ("Connection refused", "timed out", "unknown host").
int connectTcp(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace logship
