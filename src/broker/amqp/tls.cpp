#include "broker/amqp/tls.hpp"

#include <amqp_ssl_socket.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "broker/tcp_connect.hpp"
#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship::amqp {

// Filled by the verify callback with the first verification error of a handshake.
struct TlsSocket::Verify {
  int error = X509_V_OK;
  bool keyEncrypted = false;          // OpenSSL asked for the key's password
  bool certificateRequested = false;  // the broker asked for our certificate
  std::string subject;                // the certificate the error is about
  std::string issuer;
  std::string names;  // the names it is valid for: its DNS and IP SANs, else its CN
};

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const noexcept { GENERAL_NAMES_free(names); }
};

// A distinguished name as RFC 2253 text ("CN=Logship test CA,O=Logship tests"), escaped: it comes
// from the peer and ends up in a one-line error.
std::string nameText(const X509_NAME* name) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (name == nullptr || !bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return escaped(std::string_view(data, static_cast<size_t>(size)));
}

std::string certNames(X509* cert) {
  std::string out;
  const auto add = [&out](std::string_view name) { out += (out.empty() ? "" : ", ") + escaped(name); };
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      add(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                           static_cast<size_t>(ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "";
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : ASN1_STRING_length(ip) == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) != nullptr) add(text);
    }
  }
  if (out.empty()) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) {
      const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
      add(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                           static_cast<size_t>(ASN1_STRING_length(cn))));
    }
  }
  return out.empty() ? "no name" : out;
}

// Records why verification failed; returns `ok` unchanged, so with SSL_VERIFY_PEER the first
// failure aborts the handshake.
extern "C" int onVerify(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return ok;
  try {
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* verify =
        ssl == nullptr ? nullptr : static_cast<TlsSocket::Verify*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (verify != nullptr && verify->error == X509_V_OK) {
      verify->error = X509_STORE_CTX_get_error(store);
      if (X509* cert = X509_STORE_CTX_get_current_cert(store); cert != nullptr) {
        verify->subject = nameText(X509_get_subject_name(cert));
        verify->issuer = nameText(X509_get_issuer_name(cert));
        verify->names = certNames(cert);
      }
    }
  } catch (...) {  // C caller: nothing may escape; the handshake fails anyway
  }
  return ok;
}

// Notes the broker's CertificateRequest.
extern "C" void onMessage(int write, int, int contentType, const void* buf, size_t len, SSL*, void* verify) {
  if (write == 0 && contentType == SSL3_RT_HANDSHAKE && len > 0 &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_CERTIFICATE_REQUEST) {
    static_cast<TlsSocket::Verify*>(verify)->certificateRequested = true;
  }
}

// OpenSSL would prompt on the terminal for the password of an encrypted key; a daemon must not.
extern "C" int noKeyPassword(char*, int, int, void* verify) {
  static_cast<TlsSocket::Verify*>(verify)->keyEncrypted = true;
  return -1;
}

bool isAlert(unsigned long error) {
  return ERR_GET_LIB(error) == ERR_LIB_SSL && ERR_GET_REASON(error) >= SSL_AD_REASON_OFFSET;
}

}  // namespace

std::string TlsSocket::lastError() {
  const unsigned long error = ERR_peek_error();
  if (error == 0) return "";
  const char* reason = ERR_reason_error_string(error);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", error);
}

TlsSocket::TlsSocket(amqp_connection_state_t state, const BrokerOptions& options)
    : host_(options.url.host),
      port_(options.url.port),
      where_(options.url.redacted()),
      timeout_(options.connectTimeout),
      tls_(options.tls),
      state_(state),
      verify_(std::make_unique<Verify>()) {
  ERR_clear_error();
  socket_ = amqp_ssl_socket_new(state);
  if (socket_ == nullptr) throw ConnectionError(fmt::format("cannot create a TLS socket: {}", lastError()));
  auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(socket_));

  if (tls_.caFile.empty()) {
    // rabbitmq-c loads no CA by default: without this, no broker certificate would ever verify.
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      throw ConnectionError(fmt::format("cannot load the system's CA certificates: {}", lastError()));
    }
  } else if (amqp_ssl_socket_set_cacert(socket_, tls_.caFile.c_str()) != AMQP_STATUS_OK) {
    throw UsageError(
        fmt::format("--tls-ca: cannot load CA certificates from '{}': {}", escaped(tls_.caFile), lastError()));
  }
  if (!tls_.certFile.empty()) {
    SSL_CTX_set_default_passwd_cb(ctx, noKeyPassword);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, verify_.get());
    if (amqp_ssl_socket_set_key(socket_, tls_.certFile.c_str(), tls_.keyFile.c_str()) != AMQP_STATUS_OK) {
      if (verify_->keyEncrypted) {
        throw UsageError(
            fmt::format("--tls-key: '{}' is encrypted; give an unencrypted key (protect it with file "
                        "permissions)",
                        escaped(tls_.keyFile)));
      }
      throw UsageError(fmt::format(
          "--tls-cert/--tls-key: cannot use the certificate '{}' with the key '{}': {} (both PEM, the key matching "
          "the certificate)",
          escaped(tls_.certFile), escaped(tls_.keyFile), lastError()));
    }
  }

  // The broker's name: OpenSSL checks it during the chain verification, for a DNS name or an IP
  // address alike. rabbitmq-c's own check (after the handshake) matches DNS SANs and the CN only.
  amqp_ssl_socket_set_verify_peer(socket_, 1);
  amqp_ssl_socket_set_verify_hostname(socket_, 0);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host_.c_str()) != 1) {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, host_.c_str(), host_.size()) != 1) {
      throw ConnectionError(fmt::format("cannot verify the host name '{}': {}", escaped(host_), lastError()));
    }
  }
  SSL_CTX_set_app_data(ctx, verify_.get());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, onVerify);
  SSL_CTX_set_msg_callback(ctx, onMessage);
  SSL_CTX_set_msg_callback_arg(ctx, verify_.get());
  ERR_clear_error();
}

TlsSocket::~TlsSocket() = default;

std::string TlsSocket::endpoint() const {
  return host_.find(':') != std::string::npos ? fmt::format("amqps://[{}]:{}", host_, port_)
                                              : fmt::format("amqps://{}:{}", host_, port_);
}

int TlsSocket::open() {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  *verify_ = Verify{};
  const int status = amqp_socket_open_noblock(socket_, host_.c_str(), port_, &tv);
  if (status == AMQP_STATUS_OK) {
    const int fd = amqp_get_sockfd(state_);
    // As connectTcp does for plain AMQP.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  switch (status) {
    case AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED:
    case AMQP_STATUS_SOCKET_ERROR: {
      // rabbitmq-c keeps the reason to itself (no errno): connectTcp, which tells it, tries once more.
      std::string reason = amqp_error_string2(status);
      try {
        const UniqueFd probe(connectTcp(host_, port_, timeout_));
      } catch (const ConnectionError& e) {
        reason = e.what();
      }
      throw ConnectionError(fmt::format("cannot connect to {}: {}", where_, reason));
    }
    case AMQP_STATUS_TIMEOUT:
      throw TimeoutError(fmt::format("cannot connect to {}: timed out (TCP connect and TLS handshake)", where_));
    default: throwHandshakeError(status);
  }
}

void TlsSocket::throwHandshakeError(int status) const {
  const std::string failed = fmt::format("TLS handshake with {} failed", endpoint());
  const Verify& v = *verify_;
  if (v.error != X509_V_OK) {
    const std::string text = X509_verify_cert_error_string(v.error);
    switch (v.error) {
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        throw TlsError(fmt::format(
            "{}: certificate verify failed: the broker's certificate is not valid for '{}' ({}); it is for: {}", failed,
            escaped(host_), text, v.names));
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_CERT_UNTRUSTED:
        throw TlsError(fmt::format(
            "{}: certificate verify failed: {} (the broker's certificate is issued by '{}', not by a CA in {})", failed,
            text, v.issuer,
            tls_.caFile.empty() ? std::string("the system's store; give the broker's CA with --tls-ca")
                                : fmt::format("--tls-ca '{}'", escaped(tls_.caFile))));
      default:
        throw TlsError(fmt::format("{}: certificate verify failed: {} (certificate '{}')", failed, text, v.subject));
    }
  }
  throwIfAlert(status);
  const unsigned long error = ERR_peek_error();
  if (ERR_GET_LIB(error) == ERR_LIB_SSL &&
      (ERR_GET_REASON(error) == SSL_R_WRONG_VERSION_NUMBER || ERR_GET_REASON(error) == SSL_R_PACKET_LENGTH_TOO_LONG ||
       ERR_GET_REASON(error) == SSL_R_UNKNOWN_PROTOCOL)) {
    throw TlsError(fmt::format("{}: {} (is port {} a TLS port? amqps:// defaults to 5671, plain AMQP is 5672)", failed,
                               lastError(), port_));
  }
  if (status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED) {
    throw TlsError(fmt::format("{}: certificate verify failed: the broker sent no certificate", failed));
  }
  const std::string reason = lastError();
  // Anything else (reset, end of file in the middle of the handshake) may pass: retried.
  throw ConnectionError(fmt::format("{}: {}", failed, reason.empty() ? amqp_error_string2(status) : reason));
}

void TlsSocket::throwIfRefused(int status) const {
  throwIfAlert(status);
  if (status == AMQP_STATUS_SSL_ERROR && verify_->certificateRequested && lastError().empty()) {
    throw ConnectionError(
        fmt::format("TLS connection to {} was reset right after the handshake, in which the broker asked for a client "
                    "certificate: {}",
                    endpoint(),
                    tls_.certFile.empty() ? "does it require one? give it with --tls-cert and --tls-key"
                                          : fmt::format("does it refuse '{}'?", escaped(tls_.certFile))));
  }
}

void TlsSocket::throwIfAlert(int status) const {
  if (status != AMQP_STATUS_SSL_ERROR && status != AMQP_STATUS_SSL_CONNECTION_FAILED) return;
  const unsigned long error = ERR_peek_error();
  if (!isAlert(error)) return;
  const std::string failed = fmt::format("TLS handshake with {} failed", endpoint());
  const std::string alert = lastError();
  switch (ERR_GET_REASON(error)) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      throw TlsError(
          fmt::format("{}: the broker requires a client certificate ({}): give one with --tls-cert and "
                      "--tls-key",
                      failed, alert));
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      throw TlsError(fmt::format("{}: the broker refused our client certificate{} ({})", failed,
                                 tls_.certFile.empty() ? "" : fmt::format(" '{}'", escaped(tls_.certFile)), alert));
    default: throw TlsError(fmt::format("{}: the broker sent the alert '{}'", failed, alert));
  }
}

}  // namespace logship::amqp
