#include <cstdio>

#include <fmt/format.h>

#include "blueprints/stamp.h"
#include "cli/blueprint_plugins.h"
#include "cli/table.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {

Verb make_stamp_verb() {
  return {"stamp", "Stamp a blueprint onto a requirement: create a production line of work items", false,
          [](CLI::App& app, const GlobalOptions& global) {
            struct Opts {
              std::string blueprint, requirement;
              bool json = false, dry_run = false;
            };
            auto o = std::make_shared<Opts>();
            app.add_option("BLUEPRINT", o->blueprint, "The blueprint (YAML)")->required();
            app.add_option("REQUIREMENT", o->requirement, "The requirement (markdown)")->required();
            app.add_flag("--json", o->json, "Print the line as JSON");
            app.add_flag("--dry-run", o->dry_run, "Validate and print the plan; change nothing");
            return [o, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              const auto host = plugins::host_options_from_env(factory.root());
              FAB_TRY_ASSIGN(auto result, stamp(factory, o->blueprint, o->requirement, o->dry_run,
                                                [&host](const Blueprint& bp) { return check_blueprint_plugins(bp, host); }));
              if (o->json) {
                std::puts(to_json(result).dump().c_str());
                return {};
              }
              Table table({"ITEM", "CHANGE", "DEPENDS ON", "TITLE"});
              for (const auto& item : result.items) {
                table.add({item.id, short_change(item),
                           item.depends_on.empty() ? "-" : fmt::format("{}", fmt::join(item.depends_on, ",")),
                           item.title});
              }
              std::fputs(table.render().c_str(), stdout);
              if (!global.quiet) {
                std::fprintf(stderr, "%s line %s: %zu items from blueprint '%s'\n",
                             result.dry_run ? "Would create" : "Created", result.line.id.c_str(), result.items.size(),
                             result.blueprint.name.c_str());
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
