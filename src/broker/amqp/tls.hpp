#pragma once
// The TLS side of an amqps:// connection: rabbitmq-c's OpenSSL socket, configured and explained.
// OpenSSL's types stay in tls.cpp.
#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "broker/options.hpp"

namespace logship::amqp {

// Creates rabbitmq-c's TLS socket for one connection and turns its failures into clear errors.
//
// Verification happens inside the handshake (SSL_VERIFY_PEER), so nothing is sent to a broker
// that is not trusted:
//  - the broker's chain must lead to a CA of TlsOptions::caFile, else of the system's store
//    (rabbitmq-c alone trusts nothing when no CA file is set);
//  - its certificate must name the URL's host: a DNS name, or an IP address in an IP SAN. This is
//    OpenSSL's check (X509_VERIFY_PARAM), not rabbitmq-c's, whose matcher knows no IP SANs.
// A verify callback records why verification failed; rabbitmq-c only reports that it did.
class TlsSocket {
 public:
  // Throws UsageError when OpenSSL cannot use a CA, certificate or key file (naming the file).
  TlsSocket(amqp_connection_state_t state, const BrokerOptions& options);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // Connects and completes the TLS handshake within options.connectTimeout. Returns the socket's
  // fd (still owned by the connection). Throws ConnectionError or TimeoutError (retryable:
  // unreachable, reset) or TlsError (not retryable: certificate or protocol problems).
  int open();

  // After `status` failed the login: throws TlsError if the broker sent a TLS alert, or
  // ConnectionError explaining a reset that followed its request for our certificate. With TLS 1.3
  // the broker judges our certificate only after our side of the handshake is done, so its refusal
  // comes with the first read, or is lost when our first write makes its closed socket send a
  // reset. Returns if neither applies.
  void throwIfRefused(int status) const;

  // The reason OpenSSL gave for the last failure on this thread, or "".
  static std::string lastError();

  struct Verify;  // what the verify callback saw (defined in tls.cpp)

 private:
  [[noreturn]] void throwHandshakeError(int status) const;
  void throwIfAlert(int status) const;
  std::string endpoint() const;  // "amqps://host:port"

  std::string host_;
  uint16_t port_;
  std::string where_;  // the redacted URL
  std::chrono::milliseconds timeout_;
  TlsOptions tls_;
  amqp_connection_state_t state_;
  amqp_socket_t* socket_ = nullptr;  // owned by the connection state
  std::unique_ptr<Verify> verify_;   // the SSL_CTX's app data: outlives the handshake
};

}  // namespace logship::amqp
