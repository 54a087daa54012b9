#include <fmt/format.h>

#include "blueprints/blueprint.h"
#include "cli/blueprint_plugins.h"
#include "cli/verbs/verbs.h"
#include "workgraph/factory.h"

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
              const auto factory_dir = find_factory_dir();
              FAB_TRY(check_blueprint_plugins(bp, plugins::host_options_from_env(factory_dir)));
              // Without `trunk:`, a line lands on the factory's trunk (what stamping it here would do).
              std::string where = bp.trunk_given ? "" : " (no trunk: outside a factory, main)";
              if (!bp.trunk_given && !factory_dir.empty()) {
                FAB_TRY_ASSIGN(auto factory, Factory::open(factory_dir));
                bp.trunk = factory.config().trunk;
                where = fmt::format(" (no trunk: it lands on this factory's, {})", bp.trunk);
              }
              auto out = global.output();
              if (*json) {
                out.data_line(to_json(bp).dump());
              } else {
                out.status(fmt::format("{}: blueprint '{}' is valid{}", *file, bp.name, where));
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
