// `fab recover [--to OP | --accept-trunk NAME]`: repairs what a crash left half done, rolls repo
// and work graph back to an operation, or lets fab land again on a trunk moved behind its back
// (engine/recovery.h). Each repair is one line on stdout.
#include <memory>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/recovery.h"
#include "engine/run_control.h"
#include "engine/trunk.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_recover_verb() {
  return {"recover", "Repair the factory after a crash, or roll it back to a jj operation (--to OP)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto to = std::make_shared<std::string>();
            auto accept = std::make_shared<std::string>();
            auto* to_opt =
                app.add_option("--to", *to, "Restore the repo to this operation (see `fab oplog`) and roll items back");
            app.add_option("--accept-trunk", *accept,
                           "Land on this trunk again from where it is now (after fab stopped landing on it because "
                           "it was moved backwards or sideways); merged items it no longer holds are queued again")
                ->excludes(to_opt);
            return [to, accept, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto lock, engine::take_run_lock(factory, "recover"));
              auto repairs = !accept->empty() ? engine::accept_trunk(factory, *accept)
                             : to->empty()    ? engine::repair_after_crash(factory)
                                              : engine::recover_to_operation(factory, *to);
              if (!repairs) return fail(repairs.error());
              auto out = global.output();
              for (const auto& r : *repairs) {
                out.data_line((r.line.empty() ? "" : r.line + " ") + (r.item.empty() ? "" : r.item + ": ") + r.what);
              }
              if (repairs->empty()) out.data_line("nothing to repair");
              // A trunk fab does not land on (moved backwards or sideways behind its back, deleted,
              // left conflicted) is said each time: recovery changes nothing there.
              for (const auto& [trunk, why] : engine::halted_trunks(factory)) {
                out.status(fmt::format("fab: trunk {} is halted: nothing lands on it. {}. `fab recover --accept-trunk {}` "
                                       "continues from where it is now",
                                       trunk, why, trunk));
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
