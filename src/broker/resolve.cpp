#include "broker/resolve.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/escape.hpp"
#include "core/file.hpp"

namespace logship {
namespace {

const char* schemeName(BrokerUrl::Scheme scheme) {
  switch (scheme) {
    case BrokerUrl::Scheme::Amqp: return "amqp";
    case BrokerUrl::Scheme::Amqps: return "amqps";
    case BrokerUrl::Scheme::Redis: return "redis";
  }
  return "?";
}

// A TLS file must hold something we can read now, or the error would only come at connect time.
void checkReadable(const char* name, const std::string& path) {
  const UniqueFd fd = openFile(path, O_RDONLY, 0, true);
  char byte = 0;
  const ssize_t n = fd.valid() ? ::read(fd.get(), &byte, 1) : -1;
  const int error = errno;
  if (n < 0) throw UsageError(fmt::format("{}: cannot read '{}': {}", name, escaped(path), std::strerror(error)));
  if (n == 0) throw UsageError(fmt::format("{}: '{}' is empty", name, escaped(path)));
}

TlsOptions resolveTls(const BrokerSettings& settings, const BrokerSettingNames& names, const BrokerUrl& url) {
  const TlsOptions& tls = settings.tls;
  if (url.scheme != BrokerUrl::Scheme::Amqps) {
    const char* scheme = schemeName(url.scheme);
    const char* why = url.scheme == BrokerUrl::Scheme::Redis
                          ? " (Redis over TLS is not supported: Debian 12's hiredis 0.14 has no TLS)"
                          : "";
    if (settings.requireTls) {
      throw UsageError(
          fmt::format("{} refuses the unencrypted {}:// broker URL; use amqps://{}", names.requireTls, scheme, why));
    }
    for (const auto& [name, value] : {std::pair{names.tlsCa, &tls.caFile}, std::pair{names.tlsCert, &tls.certFile},
                                      std::pair{names.tlsKey, &tls.keyFile}}) {
      if (!value->empty()) {
        throw UsageError(fmt::format("{} needs an amqps:// broker URL, not {}://{}", name, scheme, why));
      }
    }
    return {};
  }
  if (tls.certFile.empty() != tls.keyFile.empty()) {
    throw UsageError(tls.certFile.empty()
                         ? fmt::format("{} needs {} (give both or neither)", names.tlsKey, names.tlsCert)
                         : fmt::format("{} needs {} (give both or neither)", names.tlsCert, names.tlsKey));
  }
  if (!tls.caFile.empty()) checkReadable(names.tlsCa, tls.caFile);
  if (!tls.certFile.empty()) checkReadable(names.tlsCert, tls.certFile);
  if (!tls.keyFile.empty()) checkReadable(names.tlsKey, tls.keyFile);
  return tls;
}

}  // namespace

void validateQueueName(const std::string& queue, const char* name) {
  if (queue.empty() || queue.size() > 250) {
    throw UsageError(fmt::format("{}: a queue name must be 1 to 250 bytes long", name));
  }
  for (unsigned char c : queue) {
    if (c < 0x20 || c == 0x7f) {
      throw UsageError(fmt::format("{}: '{}' contains a control character", name, escaped(queue)));
    }
  }
  if (queue.starts_with("amq.")) throw UsageError(fmt::format("{}: names starting with 'amq.' are reserved by the broker", name));
}

BrokerOptions resolveBrokerSettings(const BrokerSettings& settings, const BrokerSettingNames& names) {
  BrokerOptions options;
  const std::string text = settings.urls.empty() ? std::string(kDefaultBrokerUrl) : settings.urls;
  // A comma never appears in a URL we accept unencoded except as this separator (write one in a
  // password as %2C, or better give the password separately).
  for (size_t start = 0;;) {
    const size_t comma = text.find(',', start);
    const std::string one = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (one.empty()) throw UsageError(fmt::format("{}: bad broker URL: empty URL in the comma-separated list", names.broker));
    try {
      options.urls.push_back(parseBrokerUrl(one));
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("{}: {}", names.broker, e.what()));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (BrokerUrl& url : options.urls) {
    if (url.scheme != options.urls.front().scheme) {
      throw UsageError(fmt::format(
          "{}: bad broker URL: every URL of a list must use the same scheme (amqp:// or redis://)", names.broker));
    }
    if (settings.password) {
      url.password = *settings.password;
      url.hasPassword = true;
    }
  }
  options.url = options.urls.front();
  options.tls = resolveTls(settings, names, options.url);
  validateQueueName(settings.queue, names.queue);
  return options;
}

}  // namespace logship
