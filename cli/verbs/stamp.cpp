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
              bool json = false, dry_run = false, again = false;
            };
            auto o = std::make_shared<Opts>();
            app.add_option("BLUEPRINT", o->blueprint, "The blueprint (YAML)")->required();
            app.add_option("REQUIREMENT", o->requirement, "The requirement (markdown)")->required();
            app.add_flag("--json", o->json, "Print the line as JSON");
            app.add_flag("--dry-run", o->dry_run, "Validate and print the plan; change nothing");
            app.add_flag("--again", o->again, "Stamp even if a line was already stamped from these same two files");
            return [o, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              const auto host = plugins::host_options_from_env(factory.root());
              StampOptions options{o->dry_run, o->again,
                                   [&host](const Blueprint& bp) { return check_blueprint_plugins(bp, host); }};
              FAB_TRY_ASSIGN(auto result, stamp(factory, o->blueprint, o->requirement, options));
              auto out = global.output();
              if (o->json) {
                out.data_line(to_json(result).dump());
                return {};
              }
              Table table({"ITEM", "CHANGE", "DEPENDS ON", "TITLE"});
              for (const auto& item : result.items) {
                table.add({item.id, short_change(item),
                           item.depends_on.empty() ? "-" : fmt::format("{}", fmt::join(item.depends_on, ",")),
                           item.title});
              }
              out.data(table.render());
              out.status(fmt::format("{} line {}: {} items from blueprint '{}'", result.dry_run ? "Would create" : "Created",
                                     result.line.id, result.items.size(), result.blueprint.name));
              return {};
            };
          }};
}

}  // namespace fab::cli
