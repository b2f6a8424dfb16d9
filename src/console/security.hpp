#pragma once
// The console's access rules that need no HTTP (unit-tested): tokens, cookies, origins, loopback.
#include <optional>
#include <string>
#include <string_view>

namespace logship::console {

// Compares in time that depends only on the lengths, not on where the bytes differ.
bool tokensEqual(std::string_view a, std::string_view b);

// The token in --token-file: its first line without surrounding white space. Throws UsageError
// naming the file when it cannot be read or holds no token (never shows the token).
std::string readTokenFile(const std::string& path);

// The value of cookie `name` in a Cookie header ("a=1; logship_token=xyz"), or nullopt.
std::optional<std::string> cookieValue(std::string_view header, std::string_view name);

// The token a request carries: "Authorization: Bearer TOKEN", else the cookie logship_token.
std::optional<std::string> requestToken(std::string_view authorization, std::string_view cookie);

// True for a host that only this machine can reach: localhost, 127.0.0.0/8, ::1.
bool isLoopbackHost(std::string_view host);

// The host of a Host header ("127.0.0.1:8080" -> "127.0.0.1", "[::1]:8080" -> "::1", "localhost").
std::string_view hostOfHostHeader(std::string_view host);

// True when `origin` (an Origin header: scheme://host[:port]) names the server that `host` (the
// Host header the browser sent) addresses, over http or https (a TLS reverse proxy in front).
bool sameOrigin(std::string_view origin, std::string_view host);

// A random token of 32 hex digits (/dev/urandom), for the CSRF header.
std::string randomToken();

inline constexpr const char* kTokenCookie = "logship_token";
inline constexpr const char* kCsrfHeader = "X-Logship-CSRF";

}  // namespace logship::console
