// `fab gc [--keep N] [--json]`: trims jj's operation log below what fab still needs, collects
// garbage (jj's, which runs git's, and jj's index), and says what it kept (engine/gc.h).
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/verbs/verbs.h"
#include "engine/gc.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_gc_verb() {
  return {"gc", "Trim jj's operation log to what fab still needs and collect garbage", false,
          [](CLI::App& app, const GlobalOptions&) {
            struct Args {
              std::size_t keep = 0;
              bool json = false;
            };
            auto args = std::make_shared<Args>();
            app.add_option("--keep", args->keep,
                           "Keep at least the newest N operations (default: the factory's gc.keep_operations, 1000)")
                ->check(CLI::PositiveNumber);
            app.add_flag("--json", args->json, "What was kept, as one JSON object");
            return [args]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto lock, engine::take_run_lock(factory, "gc"));
              const auto keep = args->keep > 0 ? args->keep : factory.config().gc.keep_operations;
              FAB_TRY_ASSIGN(auto report, engine::collect_garbage(factory, keep));
              if (args->json) {
                nlohmann::json j{{"operations_before", report.operations_before},
                                 {"operations_kept", report.operations_kept},
                                 {"oldest_kept", report.oldest_kept.empty() ? nlohmann::json(nullptr)
                                                                            : nlohmann::json(report.oldest_kept)},
                                 {"why", report.why},
                                 {"bytes_before", report.before.bytes},
                                 {"files_before", report.before.files},
                                 {"bytes_after", report.after.bytes},
                                 {"files_after", report.after.files}};
                std::printf("%s\n", j.dump().c_str());
                return {};
              }
              for (const auto& line : engine::describe(report)) std::printf("%s\n", line.c_str());
              return {};
            };
          }};
}

}  // namespace fab::cli
