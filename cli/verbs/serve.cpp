// `fab serve [--port N] [--host ADDR] [--allow-steer]`: the console (engine/console.h) until
// Ctrl-C: one page and a JSON API on 127.0.0.1, updated live while `fab run` works elsewhere.
#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/console.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_serve_verb() {
  return {"serve", "Serve the console: a live web page and JSON API of the factory (127.0.0.1 only by default)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto options = std::make_shared<engine::ConsoleOptions>();
            options->port = 8765;
            app.add_option("-p,--port", options->port, "The port to listen on (0: any free one)")
                ->capture_default_str()
                ->check(CLI::Range(0, 65535));
            app.add_option("--host", options->host, "The address to listen on (others than 127.0.0.1 expose the "
                                                    "factory's record to the network)")
                ->capture_default_str();
            app.add_flag("--allow-steer", options->allow_steer,
                         "Enable the retry and stop buttons (POST /api/items/LINE/ITEM/retry, POST /api/stop) "
                         "behind a token printed at start");
            return [options, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              engine::StopSignals signals;
              FAB_TRY_ASSIGN(auto console, engine::Console::start(std::move(factory), *options));
              auto out = global.output();
              if (console->token().empty()) {
                out.data_line(console->url());
              } else {
                out.data_line(fmt::format("{}#token={}", console->url(), console->token()));
                out.status(fmt::format("steering is on: POST requests need `Authorization: Bearer {}`", console->token()));
              }
              out.status("serving the console; Ctrl-C stops it");
              while (engine::StopSignals::received() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
              console->stop();
              out.status("stopped");
              return {};
            };
          }};
}

}  // namespace fab::cli
