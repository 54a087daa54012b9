// `fab doctor`: checks the machine (jj, git, bubblewrap, the plugin search path); one line per check,
// `ok` / `warn` / `fail` with a hint; exit 1 if any check failed.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/blueprint_plugins.h"
#include "cli/verbs/verbs.h"
#include "engine/doctor.h"

namespace fab::cli {

Verb make_doctor_verb() {
  return {"doctor", "Check this machine for fab: jj, git, bubblewrap, the plugin search path", false,
          [](CLI::App& app, const GlobalOptions&) {
            auto json = std::make_shared<bool>(false);
            app.add_flag("--json", *json, "One JSON object per check (JSON Lines)");
            return [json]() -> Status {
              const auto checks = engine::check_machine(plugins::host_options_from_env(find_factory_dir()));
              int failed = 0;
              for (const auto& c : checks) {
                failed += c.status == engine::CheckStatus::fail ? 1 : 0;
                if (*json) {
                  nlohmann::json j = {{"check", c.check},
                                      {"status", engine::to_string(c.status)},
                                      {"detail", c.detail},
                                      {"hint", c.hint}};
                  fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
                  continue;
                }
                fmt::print("{:<5} {:<20} {}\n", engine::to_string(c.status), c.check, c.detail);
                if (c.status != engine::CheckStatus::ok && !c.hint.empty()) fmt::print("{:<26} hint: {}\n", "", c.hint);
              }
              if (failed > 0) {
                return fail(fmt::format("{} check{} failed", failed, failed == 1 ? "" : "s"),
                            "each line marked `fail` says what is wrong and how to fix it");
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
