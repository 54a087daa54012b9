// `fab run [--slots N] [--until-idle] [--line ID] [--grace S]`: the production floor (engine/floor.h).
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/floor.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_run_verb() {
  return {"run", "Run the factory floor: build, inspect, refine and merge work items", false,
          [](CLI::App& app, const GlobalOptions& global) {
            struct Args {
              int slots = 0;
              bool until_idle = false;
              std::string line;
              double grace_s = 10;
            };
            auto args = std::make_shared<Args>();
            app.add_option("--slots", args->slots, "Items building at once (default: the blueprint's slots)")
                ->check(CLI::Range(1, 256));
            app.add_flag("--until-idle", args->until_idle, "Stop when no item can move");
            app.add_option("--line", args->line, "Only this line");
            app.add_option("--grace", args->grace_s, "Seconds running agents get after a stop request")
                ->check(CLI::NonNegativeNumber);
            return [args, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, Factory::open(global.directory.empty() ? "." : global.directory));
              FAB_TRY_ASSIGN(auto lock, engine::take_run_lock(factory, "run"));
              engine::RunOptions options;
              if (args->slots > 0) options.slots = args->slots;
              options.until_idle = args->until_idle;
              options.line = args->line;
              options.grace = std::chrono::milliseconds(static_cast<long long>(args->grace_s * 1000));
              options.host = plugins::host_options_from_env(factory.root());
              if (!global.quiet) {
                options.progress = [](const std::string& text) { std::fprintf(stderr, "%s\n", text.c_str()); };
              }
              FAB_TRY_ASSIGN(auto report, engine::run_floor(factory, options));
              if (!global.quiet) {
                std::fprintf(stderr, "fab: %s: %d merged, %d dropped, %d sent to rework\n",
                             report.stopped ? "stopped" : "idle", report.merged, report.dropped, report.reworked);
                for (const auto& b : report.blocked) {
                  std::fprintf(stderr, "fab: %s cannot start: a dependency was dropped\n", b.c_str());
                }
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
