#pragma once
// `fab serve`: the console. An HTTP server (cpp-httplib) on 127.0.0.1 by default, serving one page
// (engine/console_page.h: plain HTML and JS, embedded in the binary) and the JSON API of
// engine/console_api.h, and /events: Server-Sent Events, an "event: change" whenever the factory's
// files change (polled every 300 ms), so the page follows a `fab run` in another process live.
//
// Read-only unless `allow_steer`: then POST /api/items/<line>/<item>/retry (engine/steer.h) and
// POST /api/stop (engine/run_control.h) work for a request with "Authorization: Bearer <token>";
// any other request to them gets 403. GET /api/steer says {"allowed": bool}.
// A request whose Host header names the server otherwise than by its address or localhost (DNS
// rebinding) gets 403.
#include <memory>
#include <string>

#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct ConsoleOptions {
  std::string host = "127.0.0.1";
  int port = 0;             // 0: any free port
  bool allow_steer = false;
  std::string token;        // empty: a random one is made (when steering is allowed)
};

class Console {
 public:
  // Binds and starts serving on a thread of its own; fails naming the address if it cannot bind.
  static Result<std::unique_ptr<Console>> start(Factory factory, ConsoleOptions options);
  ~Console();  // stops
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  int port() const;
  const std::string& token() const;  // empty unless steering is allowed
  std::string url() const;           // "http://127.0.0.1:<port>/"
  void stop();

  struct Impl;

 private:
  explicit Console(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// 32 random hex digits (from the system's random source).
std::string random_token();

}  // namespace fab::engine
