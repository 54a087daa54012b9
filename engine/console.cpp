#include "engine/console.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "engine/console_api.h"
#include "engine/console_page.h"
#include "engine/run_control.h"
#include "engine/steer.h"

namespace fab::engine {

namespace {

using nlohmann::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const Error& e, int status) {
  json j = {{"error", e.message}, {"causes", e.causes}, {"hint", e.hint}};
  send_json(res, j, e.kind == ErrorKind::internal ? 500 : status);
}

}  // namespace

struct Console::Impl {
  Factory factory;
  ConsoleOptions options;
  httplib::Server server;
  std::thread thread;
  std::mutex mutex;  // one API request at a time on the factory
  std::atomic<bool> stopping{false};
  int port = 0;

  explicit Impl(Factory f, ConsoleOptions o) : factory(std::move(f)), options(std::move(o)) {}

  // Runs `answer` under the mutex and sends its JSON, or its error with `status`.
  template <class F>
  void reply(httplib::Response& res, F&& answer, int status = 404) {
    std::lock_guard lock(mutex);
    Result<json> r = answer();
    if (r) {
      send_json(res, *r);
    } else {
      send_error(res, r.error(), status);
    }
  }

  bool steer_allowed(const httplib::Request& req, httplib::Response& res) const {
    if (!options.allow_steer) {
      send_error(res, Error("steering is off").with_hint("start the console with `fab serve --allow-steer`"), 403);
      return false;
    }
    if (req.get_header_value("Authorization") != "Bearer " + options.token) {
      send_error(res, Error("a steering request needs the token `fab serve` printed")
                          .with_hint("send it as `Authorization: Bearer <token>`"),
                 403);
      return false;
    }
    return true;
  }

  // A page on another site may point a name of its own at 127.0.0.1 (DNS rebinding) and read the
  // API as same-origin: only requests naming this server by address (or localhost) are answered.
  // (Served on another address than loopback, it is meant to be reached by other names.)
  bool host_allowed(const httplib::Request& req) const {
    if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1") return true;
    const std::string host = req.get_header_value("Host");
    const std::string p = ":" + std::to_string(port);
    for (const std::string& name : {std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]"), options.host}) {
      if (host == name + p) return true;
    }
    return false;
  }

  void routes() {
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (host_allowed(req)) return httplib::Server::HandlerResponse::Unhandled;
      send_error(res, Error("this console answers only requests for " + options.host + ":" + std::to_string(port)), 403);
      return httplib::Server::HandlerResponse::Handled;
    });
    // Each open page holds one thread with its event stream: more than httplib's default 8.
    server.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(kConsolePage, "text/html; charset=utf-8");
    });
    server.Get("/api/lines", [this](const httplib::Request&, httplib::Response& res) {
      reply(res, [&] { return lines_json(factory); }, 500);
    });
    server.Get(R"(/api/lines/([^/]+)/items)", [this](const httplib::Request& req, httplib::Response& res) {
      reply(res, [&] { return line_items_json(factory, req.matches[1]); });
    });
    server.Get(R"(/api/items/([^/]+)/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      reply(res, [&] { return item_json(factory, req.matches[1], req.matches[2]); });
    });
    server.Get("/api/oplog", [this](const httplib::Request& req, httplib::Response& res) {
      std::size_t limit = 100;
      if (req.has_param("limit")) limit = std::strtoul(req.get_param_value("limit").c_str(), nullptr, 10);
      reply(res, [&] { return oplog_json(factory, limit); }, 500);
    });
    server.Get("/api/throughput", [this](const httplib::Request&, httplib::Response& res) {
      reply(res, [&] { return throughput_json(factory, now_ms()); }, 500);
    });
    server.Get("/api/steer", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"allowed", options.allow_steer}});
    });
    server.Post(R"(/api/items/([^/]+)/([^/]+)/retry)", [this](const httplib::Request& req, httplib::Response& res) {
      if (!steer_allowed(req, res)) return;
      const std::string line = req.matches[1], item = req.matches[2];
      reply(
          res,
          [&]() -> Result<json> {
            FAB_TRY_ASSIGN(auto rec, factory.store().load_line(line));
            if (rec.find(item) == nullptr) return fail(fmt::format("line {} has no item {}", line, item));
            std::vector<std::string> notes;
            FAB_TRY_ASSIGN(auto done, retry_items(factory, {item}, &notes));
            json items = json::array();
            for (const auto& r : done) items.push_back({{"id", r.item.id}, {"round", r.round}, {"archived", r.archived}});
            return json{{"retried", items}, {"notes", notes}};
          },
          409);
    });
    server.Post("/api/stop", [this](const httplib::Request& req, httplib::Response& res) {
      if (!steer_allowed(req, res)) return;
      reply(
          res,
          [&]() -> Result<json> {
            FAB_TRY_ASSIGN(auto holder, request_stop(factory));
            const bool running = holder.pid != 0 || !holder.since.empty();
            return json{{"running", running}, {"holder", running ? json(holder.describe()) : json(nullptr)}};
          },
          409);
    });
    server.Get("/events", [this](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_chunked_content_provider(
          "text/event-stream", [this, last = std::string(), quiet = 0](std::size_t, httplib::DataSink& sink) mutable {
            if (stopping) return false;
            const std::string mark = factory_mark(factory);
            std::string chunk;
            if (mark != last) {
              chunk = fmt::format("event: change\ndata: {{\"mark\":\"{}\"}}\n\n", mark);
              last = mark;
              quiet = 0;
            } else if (++quiet % 50 == 0) {
              chunk = ": still here\n\n";  // keeps proxies and the browser from giving up
            }
            if (!chunk.empty() && !sink.write(chunk.data(), chunk.size())) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            return !stopping;
          });
    });
  }
};

Console::Console(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Console::~Console() { stop(); }

Result<std::unique_ptr<Console>> Console::start(Factory factory, ConsoleOptions options) {
  if (options.allow_steer && options.token.empty()) options.token = random_token();
  if (!options.allow_steer) options.token.clear();
  auto impl = std::make_unique<Impl>(std::move(factory), std::move(options));
  impl->routes();
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which would let a second console
  // (or anything else setting it) bind the same port and take half of its connections.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  Impl& i = *impl;
  i.port = i.options.port == 0 ? i.server.bind_to_any_port(i.options.host)
                               : (i.server.bind_to_port(i.options.host, i.options.port) ? i.options.port : -1);
  if (i.port <= 0) {
    return fail(fmt::format("could not listen on {}:{}", i.options.host, i.options.port),
                "another program may use that port: choose another with --port N, or --port 0 for any free one");
  }
  i.thread = std::thread([&i] { i.server.listen_after_bind(); });
  while (!i.server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return std::unique_ptr<Console>(new Console(std::move(impl)));
}

int Console::port() const { return m_impl->port; }
const std::string& Console::token() const { return m_impl->options.token; }
std::string Console::url() const { return fmt::format("http://{}:{}/", m_impl->options.host, m_impl->port); }

void Console::stop() {
  if (!m_impl || m_impl->stopping.exchange(true)) return;
  m_impl->server.stop();
  if (m_impl->thread.joinable()) m_impl->thread.join();
}

std::string random_token() {
  std::random_device dev;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", dev());
  return out;
}

}  // namespace fab::engine
