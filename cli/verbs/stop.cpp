// `fab stop [--wait]`: asks the `fab run` working on this factory to stop (engine/run_control.h).
#include <chrono>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_stop_verb() {
  return {"stop", "Ask the running `fab run` to stop after its running agents finish", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto wait = std::make_shared<bool>(false);
            app.add_flag("--wait", *wait, "Wait until it has stopped");
            return [wait, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto holder, engine::request_stop(factory));
              auto out = global.output();
              if (holder.pid == 0 && holder.since.empty()) {
                out.data_line("no fab run is active");
                return {};
              }
              out.data_line(fmt::format("asked the fab run ({}) to stop", holder.describe()));
              if (*wait) {
                for (;;) {
                  FAB_TRY_ASSIGN(auto attempt, HolderLock::try_acquire(engine::run_lock_file(factory)));
                  if (attempt.lock) break;
                  std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
                out.data_line("it has stopped");
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
