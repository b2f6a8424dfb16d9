#include "broker/amqp/connection.hpp"

#include <amqp_tcp_socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "broker/tcp_connect.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/host.hpp"

namespace logship::amqp {
namespace {

std::string bytesToString(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

std::string refusalHint(int code, const std::string& text) {
  if (code == AMQP_ACCESS_REFUSED && text.find("Login was refused") != std::string::npos) {
    return " (check user name and password; the guest user can only connect from localhost)";
  }
  return "";
}

// A URL with a user but no password (amqp://alice@host/) and no --password-file or LOGSHIP_PASSWORD:
// an empty password was sent (docs/FORMATS.md#broker-urls).
std::string noPasswordHint(const std::string& user) {
  return fmt::format(
      ": no password was given (the URL names user '{}' without one, and neither --password-file nor "
      "LOGSHIP_PASSWORD gave one, so an empty password was sent): give it with --password-file, LOGSHIP_PASSWORD or "
      "amqp://{}:PASSWORD@...",
      escaped(user), escaped(user));
}

}  // namespace

void AmqpConnection::throwStatusError(int status, std::string_view what) {
  broken_ = true;
  std::string detail = amqp_error_string2(status);
  if (status == AMQP_STATUS_SOCKET_ERROR && errno != 0) detail += fmt::format(" ({})", std::strerror(errno));
  if (status == AMQP_STATUS_SSL_ERROR && tls_) {
    if (const std::string reason = TlsSocket::lastError(); !reason.empty()) detail += fmt::format(" ({})", reason);
  }
  if (status == AMQP_STATUS_TIMEOUT) throw TimeoutError(fmt::format("{}: timed out", what));
  throw ConnectionError(fmt::format("{}: {}", what, detail));
}

void AmqpConnection::throwStalled(std::string_view what) {
  broken_ = true;
  throw TimeoutError(fmt::format(
      "{}: the broker accepted no data for {} s (is it blocking publishers? check its memory and disk alarms)", what,
      std::chrono::duration_cast<std::chrono::seconds>(watchdog_->limit()).count()));
}

void AmqpConnection::throwClosedByBroker(const amqp_method_t& method, amqp_channel_t channel) {
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_connection_close_t*>(method.decoded);
    const std::string text = bytesToString(m->reply_text);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(get(), 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    broken_ = true;
    if (m->reply_code == AMQP_CONNECTION_FORCED) {
      // The broker is shutting down or an operator closed us: worth reconnecting, not a refusal.
      throw ConnectionError(fmt::format("broker closed the connection: {}", text));
    }
    throw BrokerRefusedError(m->reply_code,
                             fmt::format("broker closed the connection: {}{}", text, refusalHint(m->reply_code, text)));
  }
  if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<const amqp_channel_close_t*>(method.decoded);
    const std::string text = bytesToString(m->reply_text);
    amqp_channel_close_ok_t ok{};
    amqp_send_method(get(), channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (m->reply_code == AMQP_NOT_FOUND && text.find("is down or inaccessible") != std::string::npos) {
      throw UnavailableError(fmt::format("broker closed the channel: {} (waiting for that node)", text));
    }
    throw BrokerRefusedError(m->reply_code, fmt::format("broker closed the channel: {}", text));
  }
  broken_ = true;
  throw ConnectionError(fmt::format("unexpected method 0x{:08x} from the broker", method.id));
}

void AmqpConnection::throwReplyError(const amqp_rpc_reply_t& reply, std::string_view what, amqp_channel_t channel) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NONE: broken_ = true; throw ConnectionError(fmt::format("{}: missing RPC reply", what));
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: throwStatusError(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION: try { throwClosedByBroker(reply.reply, channel);
      } catch (const BrokerRefusedError& e) {
        throw BrokerRefusedError(e.code(), fmt::format("{}: {}", what, e.what()));
      } catch (const UnavailableError& e) {
        throw UnavailableError(fmt::format("{}: {}", what, e.what()));
      }
    case AMQP_RESPONSE_NORMAL: break;
  }
  throw ConnectionError(fmt::format("{}: unknown failure", what));
}

AmqpConnection AmqpConnection::open(const BrokerOptions& options) {
  AmqpConnection conn;
  conn.state_.reset(amqp_new_connection());
  if (!conn.state_) throw ConnectionError("out of memory creating an AMQP connection");
  const auto where = options.url.redacted();
  if (options.url.scheme == BrokerUrl::Scheme::Amqps) {
    // rabbitmq-c's TLS socket connects by itself (it cannot take our connected fd).
    conn.tls_ = std::make_unique<TlsSocket>(conn.get(), options);
    const int fd = conn.tls_->open();
    conn.watchdog_ = std::make_unique<SendWatchdog>(fd, options.rpcTimeout);
  } else {
    amqp_socket_t* socket = amqp_tcp_socket_new(conn.get());  // owned by the connection
    if (socket == nullptr) throw ConnectionError("cannot create a TCP socket");
    try {
      const int fd = connectTcp(options.url.host, options.url.port, options.connectTimeout);
      amqp_tcp_socket_set_sockfd(socket, fd);  // the connection owns the fd from here on
      conn.watchdog_ = std::make_unique<SendWatchdog>(fd, options.rpcTimeout);
    } catch (const ConnectionError& e) {
      conn.broken_ = true;
      throw ConnectionError(fmt::format("cannot connect to {}: {}", where, e.what()));
    }
  }
  timeval handshakeTv = toTimeval(options.connectTimeout);
  amqp_set_handshake_timeout(conn.get(), &handshakeTv);
  timeval rpcTv = toTimeval(options.rpcTimeout);
  amqp_set_rpc_timeout(conn.get(), &rpcTv);

  const std::string connectionName = fmt::format("{}@{} pid {}", options.clientName, localHostName(), getpid());
  // rabbitmq-c merges these with its own client properties. Without consumer_cancel_notify the
  // broker never tells a consumer that its queue was deleted; with connection.blocked it tells a
  // publisher why it stopped reading (memory or disk alarm).
  amqp_table_entry_t capabilities[2];
  capabilities[0].key = amqp_cstring_bytes("consumer_cancel_notify");
  capabilities[1].key = amqp_cstring_bytes("connection.blocked");
  for (auto& c : capabilities) {
    c.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    c.value.value.boolean = 1;
  }
  amqp_table_entry_t props[2];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes = amqp_cstring_bytes(connectionName.c_str());
  props[1].key = amqp_cstring_bytes("capabilities");
  props[1].value.kind = AMQP_FIELD_KIND_TABLE;
  props[1].value.value.table = amqp_table_t{2, capabilities};
  amqp_table_t clientProps{2, props};

  const amqp_rpc_reply_t login = amqp_login_with_properties(
      conn.get(), options.url.vhost.c_str(), 0, 131072, static_cast<int>(options.heartbeat.count()), &clientProps,
      AMQP_SASL_METHOD_PLAIN, options.url.user.c_str(), options.url.password.c_str());
  if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && conn.tls_) {
    conn.broken_ = true;
    conn.tls_->throwIfRefused(login.library_error);  // the broker refused our certificate (or wanted one)
    conn.broken_ = false;
  }
  if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_TIMEOUT) {
    conn.broken_ = true;  // the TCP connection was accepted, the AMQP handshake got no answer
    throw TimeoutError(noHandshakeAnswer(where, "an AMQP broker", options.connectTimeout));
  }
  if (login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_CONNECTION_CLOSED) {
    // RabbitMQ drops the socket on a failed PLAIN login before rabbitmq-c can read the reason.
    conn.broken_ = true;
    if (options.url.password.empty()) {
      throw BrokerRefusedError(AMQP_ACCESS_REFUSED,
                               fmt::format("login to {} refused{}", where, noPasswordHint(options.url.user)));
    }
    throw BrokerRefusedError(AMQP_ACCESS_REFUSED, fmt::format("login to {} refused{}", where,
                                                              refusalHint(AMQP_ACCESS_REFUSED, "Login was refused")));
  }
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    try {
      conn.throwReplyError(login, fmt::format("login to {}", where));
    } catch (const BrokerRefusedError& e) {
      if (e.code() != AMQP_ACCESS_REFUSED || !options.url.password.empty()) throw;
      throw BrokerRefusedError(e.code(), fmt::format("login to {} refused{}", where, noPasswordHint(options.url.user)));
    }
  }
  conn.newQueues_ = options.newQueues;
  conn.openChannel(1);
  return conn;
}

void AmqpConnection::openChannel(amqp_channel_t channel) {
  amqp_channel_open(get(), channel);
  check(amqp_get_rpc_reply(get()), fmt::format("opening channel {}", channel), channel);
}

void AmqpConnection::close() noexcept {
  if (!state_) return;
  // connection.close closes every channel; the broker handles frames in order, so acks sent
  // before it are processed first.
  if (!broken_ && watchdog_) {
    // Bounded: amqp_connection_close waits at most the RPC timeout for close-ok; the watchdog
    // bounds the send of connection.close itself.
    watchdog_->begin();
    amqp_connection_close(get(), AMQP_REPLY_SUCCESS);
    watchdog_->end();
  }
  watchdog_.reset();
  state_.reset();
}

}  // namespace logship::amqp
