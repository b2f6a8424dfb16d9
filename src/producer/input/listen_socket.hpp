#pragma once
// Sockets of the network inputs (syslog over UDP and TCP): an owned descriptor, binding a
// HOST:PORT address with one clear error, and addresses as text.
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "core/file.hpp"

namespace logship {

// An owned socket descriptor (move-only); closed when destroyed.
using Socket = UniqueFd;

// Binds a non-blocking, close-on-exec socket of `type` (SOCK_DGRAM, or SOCK_STREAM: then also
// listening) to `address`: HOST:PORT or [IPV6]:PORT, port 0 for any free one (the syntax of
// --metrics-listen). Tries each address the host resolves to until one binds.
// Throws UsageError for a malformed address or a host that does not resolve, and Error when it
// cannot bind (the port is in use, a port below 1024 without the right, an address not of this
// machine), each naming `flag` and the address.
Socket bindSocket(std::string_view address, int type, std::string_view flag);

// "127.0.0.1:514", "[::1]:514" (a v4-mapped IPv6 address as IPv4), or "" for another family.
std::string socketAddressText(const sockaddr_storage& address, bool withPort);
// The address `fd` is bound to, with its port.
std::string boundAddressText(int fd);

}  // namespace logship
