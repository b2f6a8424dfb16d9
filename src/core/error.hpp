#pragma once
// Typed errors at the boundary (the tree: docs/ARCHITECTURE.md, "The interfaces"). Hot loops use
// statuses instead.
#include <stdexcept>
#include <string>

namespace logship {

// Base of every error Logship reports to a user: what() is one line that says what went wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad command line, URL, config value: the program exits with code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// The broker could not be reached or the connection broke (retryable).
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// The broker has the queue but cannot serve it now: the cluster node holding it is down
// (NOT_FOUND "home node ... is down or inaccessible"). Retryable: it comes back with its node.
class UnavailableError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

// The broker refused us: bad credentials, missing permission, inequivalent queue, ... (not retryable).
class BrokerRefusedError : public Error {
 public:
  BrokerRefusedError(int code, const std::string& text) : Error(text), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// TLS could not be set up: the broker's certificate is not trusted or not valid for its name, the
// broker refused ours, or the port does not speak TLS (not retryable: retrying cannot help).
class TlsError : public Error {
 public:
  using Error::Error;
};

// The user asked us to stop (SIGINT/SIGTERM) before the work could start.
class InterruptedError : public Error {
 public:
  using Error::Error;
};

// A blocking call ran past its deadline.
class TimeoutError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
};

}  // namespace logship
