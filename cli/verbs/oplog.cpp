// `fab oplog [--json] [--limit N]`: jj's operation log, annotated with the line, item and transition
// that caused each operation (engine/oplog.h).
#include <memory>

#include "cli/verbs/verbs.h"
#include "engine/oplog.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_oplog_verb() {
  return {"oplog", "Show jj's operation log with the work item behind each operation", false,
          [](CLI::App& app, const GlobalOptions& global) {
            struct Args {
              bool json = false;
              std::size_t limit = 0;
            };
            auto args = std::make_shared<Args>();
            app.add_flag("--json", args->json, "One JSON object per operation (JSON Lines)");
            app.add_option("-n,--limit", args->limit, "Only the newest N operations");
            return [args, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto entries, engine::annotated_oplog(factory, args->limit));
              auto out = global.output();
              for (const auto& e : entries) {
                out.data_line(args->json ? engine::to_json(e).dump() : engine::format_oplog_line(e));
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
