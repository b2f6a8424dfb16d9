#include "console/server.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "console/assets.hpp"
#include "console/broker_views.hpp"
#include "console/files.hpp"
#include "console/live.hpp"
#include "console/params.hpp"
#include "console/pipeline.hpp"
#include "console/records.hpp"
#include "console/security.hpp"
#include "core/escape.hpp"
#include "core/timestamp.hpp"
#include "ctl/tail.hpp"

namespace logship::console {
namespace {

using httplib::Request;
using httplib::Response;

constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'";
constexpr const char* kJsonType = "application/json; charset=utf-8";
constexpr const char* kTokenNeeded = "a token is needed (--token-file)";
// Workers answering requests: more than LiveHub::kMaxClients, so that live views (each holds one
// for as long as it watches) never leave the API without one.
constexpr size_t kWorkers = LiveHub::kMaxClients + 8;
constexpr auto kSocketDeadline = std::chrono::seconds(10);  // to read a request, to write a piece of an answer
constexpr auto kLiveWait = std::chrono::seconds(5);         // a live view with nothing to say sends a comment
constexpr size_t kMaxBodyBytes = 64 * 1024;
const char* const kPages[] = {"/", "/index.html", "/live", "/search", "/queues", "/pipeline"};

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void sendJson(Response& res, const Json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(dump(j), kJsonType);
}

void sendError(Response& res, int status, const std::string& reason) { sendJson(res, {{"error", reason}}, status); }

// An API handler: ApiError answers its status, a broker that cannot be reached or refuses 502, any
// other failure 500; each with its one line.
template <typename Handler>
httplib::Server::Handler api(Handler handler) {
  return [handler](const Request& req, Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      sendError(res, e.status(), e.what());
    } catch (const ConnectionError& e) {
      sendError(res, 502, e.what());
    } catch (const BrokerRefusedError& e) {
      sendError(res, 502, e.what());
    } catch (const std::exception& e) {
      sendError(res, 500, e.what());
    }
  };
}

bool isPage(const std::string& path) {
  return std::find(std::begin(kPages), std::end(kPages), path) != std::end(kPages);
}

Json bodyJson(const Request& req) {
  const Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw ApiError(400, "the body must be a JSON object");
  return body;
}

uint64_t countOf(const Request& req) {
  const Json body = bodyJson(req);
  const auto it = body.find("count");
  if (it == body.end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0) {
    throw ApiError(400, "count: give a whole number of 1 or more");
  }
  return it->get<uint64_t>();
}

ctl::TailFilter liveFilter(const Params& params) {
  const search::Query q = parseFilters(params, nowMicros());
  ctl::TailFilter filter;
  filter.minLevel = q.minLevel.value_or(Level::Trace);
  filter.services = q.services;
  filter.hosts = q.hosts;
  return filter;
}

}  // namespace

void checkExposure(const ConsoleOptions& options) {
  if (options.token || isLoopbackHost(options.listen.host)) return;
  throw UsageError(fmt::format(
      "--listen {}: not a loopback address, so anyone who can reach it would read the logs: give --token-file "
      "FILE (or listen on 127.0.0.1 behind a reverse proxy)",
      escaped(options.listen.text())));
}

struct ConsoleServer::Impl {
  explicit Impl(ConsoleOptions o)
      : options(std::move(o)), files(options.files), pipeline(options.metricsTargets), csrf(randomToken()) {}

  ConsoleOptions options;
  FileSet files;
  Pipeline pipeline;
  std::string csrf;
  httplib::Server server;
  std::unique_ptr<LiveHub> live;
  std::thread thread;
  std::atomic<bool> listenEnded{false};

  bool authorized(const Request& req) const {
    if (!options.token) return true;
    const auto token = requestToken(req.get_header_value("Authorization"), req.get_header_value("Cookie"));
    return token && tokensEqual(*token, *options.token);
  }
  httplib::Server::HandlerResponse guard(const Request& req, Response& res);
  void page(const Request& req, Response& res, int status);
  void asset(const Request& req, Response& res);
  void routes();
  void brokerRoutes();
  void login(const Request& req, Response& res);
  void search(const Request& req, Response& res);
  void context(const Request& req, Response& res);
  void exportRecords(const Request& req, Response& res);
  void liveView(const Request& req, Response& res);
};

// Before any route: the token (every request but /api/login and the public /assets/), then for a
// mutating request the CSRF header and the Origin.
httplib::Server::HandlerResponse ConsoleServer::Impl::guard(const Request& req, Response& res) {
  using R = httplib::Server::HandlerResponse;
  const bool isApi = req.path.starts_with("/api/");
  // Without a token only this machine may ask: a Host that is not loopback is a page of another site
  // whose name was made to resolve to 127.0.0.1 (DNS rebinding) or a proxy that needs --token-file.
  if (!options.token && !isLoopbackHost(hostOfHostHeader(req.get_header_value("Host")))) {
    sendError(res, 403,
              fmt::format("refused: the Host '{}' is not this machine (behind a reverse proxy, use --token-file)",
                          escaped(req.get_header_value("Host"))));
    return R::Handled;
  }
  if (req.path == "/api/login" || req.path.starts_with("/assets/")) return R::Unhandled;
  if (!authorized(req)) {
    if (isPage(req.path) && req.method == "GET") {
      page(req, res, 401);  // the page asks for the token, then posts it to /api/login
    } else {
      sendError(res, 401, kTokenNeeded);
    }
    return R::Handled;
  }
  if (req.method != "POST" || !isApi) return R::Unhandled;
  const std::string origin = req.get_header_value("Origin");
  if (req.has_header("Origin") && !sameOrigin(origin, req.get_header_value("Host"))) {
    sendError(res, 403, fmt::format("refused: the request comes from another site ({})", escaped(origin)));
    return R::Handled;
  }
  if (!tokensEqual(req.get_header_value(kCsrfHeader), csrf)) {
    sendError(res, 403,
              fmt::format("refused: a changing request needs the header {} (from GET /api/csrf)", kCsrfHeader));
    return R::Handled;
  }
  return R::Unhandled;
}

void ConsoleServer::Impl::page(const Request&, Response& res, int status) {
  const auto index = findAsset("/index.html");
  if (!index) {
    sendError(res, 500, "this logctl was built without the console's pages");
    return;
  }
  res.status = status;
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(index->body), std::string(index->contentType).c_str());
}

void ConsoleServer::Impl::asset(const Request& req, Response& res) {
  const auto a = findAsset(req.path);
  if (!a) {
    res.status = 404;
    res.set_content("not found\n", "text/plain; charset=utf-8");
    return;
  }
  res.set_header("ETag", std::string(a->etag));
  res.set_header("Cache-Control", "no-cache");
  if (req.get_header_value("If-None-Match") == a->etag) {
    res.status = 304;
    return;
  }
  res.set_content(std::string(a->body), std::string(a->contentType).c_str());
}

void ConsoleServer::Impl::login(const Request& req, Response& res) {
  if (req.has_header("Origin") && !sameOrigin(req.get_header_value("Origin"), req.get_header_value("Host"))) {
    throw ApiError(403, "refused: the request comes from another site");
  }
  if (!options.token) {
    sendJson(res, {{"ok", true}});
    return;
  }
  const Json body = bodyJson(req);
  const auto it = body.find("token");
  if (it == body.end() || !it->is_string() || !tokensEqual(it->get_ref<const std::string&>(), *options.token)) {
    throw ApiError(401, "wrong token");
  }
  res.set_header("Set-Cookie", fmt::format("{}={}; HttpOnly; SameSite=Strict; Path=/", kTokenCookie, *options.token));
  sendJson(res, {{"ok", true}});
}

void ConsoleServer::Impl::search(const Request& req, Response& res) {
  const search::Query query = parseFilters(req.params, nowMicros());
  sendJson(res, searchFiles(files, query, parsePage(req.params)));
}

void ConsoleServer::Impl::context(const Request& req, Response& res) {
  const auto file = files.find(param(req.params, "file").value_or(""));
  if (!file) throw ApiError(404, "no such file among those of --files");
  const auto text = param(req.params, "offset");
  if (!text || text->empty()) throw ApiError(400, "offset: missing");
  const uint64_t offset = numberParam(req.params, "offset", 0, 0, UINT64_MAX);
  const uint64_t before = numberParam(req.params, "before", 10, 0, 1000);
  const uint64_t after = numberParam(req.params, "after", 10, 0, 1000);
  sendJson(res, contextOf(*file, offset, before, after));
}

void ConsoleServer::Impl::exportRecords(const Request& req, Response& res) {
  const std::string format = param(req.params, "format").value_or("ndjson");
  if (format != "ndjson" && format != "csv") {
    throw ApiError(400, fmt::format("format: '{}' is not ndjson or csv", escaped(format)));
  }
  auto query = std::make_shared<search::Query>(parseFilters(req.params, nowMicros()));
  compilePattern(*query);  // a bad q is a 400 before the answer starts
  const ExportFormat f = format == "csv" ? ExportFormat::Csv : ExportFormat::Ndjson;
  res.set_header("Content-Disposition", fmt::format("attachment; filename=\"logship-export.{}\"", format));
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(f == ExportFormat::Csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
                                   [this, query, f](size_t, httplib::DataSink& sink) {
                                     try {
                                       exportFiles(files, *query, f, [&sink](std::string_view piece) {
                                         return sink.write(piece.data(), piece.size());
                                       });
                                     } catch (const std::exception& e) {  // the answer has begun: cut it short
                                       spdlog::warn("export: {}", e.what());
                                       return false;
                                     }
                                     sink.done();
                                     return true;
                                   });
}

void ConsoleServer::Impl::liveView(const Request& req, Response& res) {
  ctl::TailFilter filter = liveFilter(req.params);
  search::Query q;
  q.grep = param(req.params, "q").value_or("");
  std::shared_ptr<LiveClient> client = live->join(std::move(filter), compilePattern(q));
  if (!client) throw ApiError(503, fmt::format("{} live views are open already: close one", LiveHub::kMaxClients));
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");  // nginx: pass the events on as they come
  res.set_chunked_content_provider(
      "text/event-stream",
      [client](size_t, httplib::DataSink& sink) {
        std::string out;
        if (!client->take(out, kLiveWait)) out = ": nothing new\n\n";  // also finds a client that went away
        return sink.write(out.data(), out.size());
      },
      [this, client](bool) { live->leave(client); });
}

void ConsoleServer::Impl::brokerRoutes() {
  server.Get("/api/queues",
             api([this](const Request&, Response& res) { sendJson(res, queuesJson(options.broker, options.queue)); }));
  server.Get("/api/dead", api([this](const Request& req, Response& res) {
               const uint64_t limit = numberParam(req.params, "limit", 50, 1, 1000);
               sendJson(res, deadLettersJson(options.broker, options.queue, limit));
             }));
  server.Post("/api/dead/requeue", api([this](const Request& req, Response& res) {
                sendJson(res, {{"done", requeueDeadLetters(options.broker, options.queue, countOf(req))}});
              }));
  server.Post("/api/dead/delete", api([this](const Request& req, Response& res) {
                sendJson(res, {{"done", deleteDeadLetters(options.broker, options.queue, countOf(req))}});
              }));
  server.Get("/api/live", api([this](const Request& req, Response& res) { liveView(req, res); }));
}

void ConsoleServer::Impl::routes() {
  server.set_pre_routing_handler([this](const Request& req, Response& res) { return guard(req, res); });
  server.Get("/api/info", api([this](const Request&, Response& res) {
               sendJson(res, {{"version", LOGSHIP_VERSION},
                              {"broker", options.broker.url.redacted()},
                              {"queue", options.queue},
                              {"files", options.files},
                              {"auth", options.token.has_value()}});
             }));
  server.Get("/api/csrf", api([this](const Request&, Response& res) { sendJson(res, {{"csrf", csrf}}); }));
  server.Post("/api/login", api([this](const Request& req, Response& res) { login(req, res); }));
  server.Get("/api/search", api([this](const Request& req, Response& res) { search(req, res); }));
  server.Get("/api/context", api([this](const Request& req, Response& res) { context(req, res); }));
  server.Get("/api/export", api([this](const Request& req, Response& res) { exportRecords(req, res); }));
  server.Get("/api/pipeline", api([this](const Request&, Response& res) { sendJson(res, pipeline.scrape()); }));
  brokerRoutes();
  const auto noSuchApi = [](const Request& req, Response& res) {
    sendError(res, 404, fmt::format("no such API: {} {}", req.method, escaped(req.path)));
  };
  server.Get("/api/.*", noSuchApi);
  server.Post("/api/.*", noSuchApi);
  for (const char* p : kPages) server.Get(p, [this](const Request& req, Response& res) { page(req, res, 200); });
  server.Get("/assets/.*", [this](const Request& req, Response& res) { asset(req, res); });
  server.set_error_handler([](const Request&, Response& res) {
    if (res.body.empty()) {
      res.set_content(res.status == 404 ? "not found\n" : fmt::format("error {}\n", res.status),
                      "text/plain; charset=utf-8");
    }
  });
}

ConsoleServer::ConsoleServer(ConsoleOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  checkExposure(impl_->options);
  httplib::Server& s = impl_->server;
  s.set_default_headers({{"Content-Security-Policy", kCsp},
                         {"X-Content-Type-Options", "nosniff"},
                         {"Referrer-Policy", "no-referrer"},
                         {"X-Frame-Options", "DENY"}});
  s.set_payload_max_length(kMaxBodyBytes);
  s.set_read_timeout(kSocketDeadline);
  s.set_write_timeout(kSocketDeadline);
  s.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  impl_->routes();
  metrics::bindHttpServer(s, impl_->options.listen, "--listen");
  const metrics::SignalsBlocked blocked;  // inherited by the server's threads
  impl_->live = std::make_unique<LiveHub>(impl_->options.broker, impl_->options.queue);
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->listenEnded = true;
  });
}

ConsoleServer::~ConsoleServer() {
  // stop() ends only a server that runs: wait for the thread to have started it.
  while (!impl_->server.is_running() && !impl_->listenEnded) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server.stop();  // live views end at their next wait (kLiveWait)
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->live.reset();
}

const metrics::ListenAddress& ConsoleServer::address() const { return impl_->options.listen; }

}  // namespace logship::console
