#include <fmt/format.h>

#include "blueprints/blueprint.h"
#include "cli/blueprint_plugins.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {

Verb make_blueprint_verb() {
  return {"blueprint", "Work with blueprints (`fab blueprint check FILE`)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            app.require_subcommand(1);
            auto* check = app.add_subcommand("check", "Validate a blueprint and the plugins it names; change nothing");
            auto file = std::make_shared<std::string>();
            auto json = std::make_shared<bool>(false);
            check->add_option("FILE", *file, "The blueprint (YAML)")->required();
            check->add_flag("--json", *json, "Print the validated blueprint as JSON");
            return [file, json, &global]() -> Status {
              FAB_TRY_ASSIGN(auto bp, parse_blueprint_file(*file));
              FAB_TRY(check_blueprint_plugins(bp, plugins::host_options_from_env(find_factory_dir())));
              auto out = global.output();
              if (*json) {
                out.data_line(to_json(bp).dump());
              } else {
                out.status(fmt::format("{}: blueprint '{}' is valid", *file, bp.name));
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
