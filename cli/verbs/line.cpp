#include <cstdio>

#include <fmt/format.h>

#include "cli/table.h"
#include "cli/verbs/verbs.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_line_verb() {
  return {"line", "List production lines, or show one with its items", false,
          [](CLI::App& app, const GlobalOptions&) {
            app.require_subcommand(1);
            auto* list = app.add_subcommand("list", "List the production lines");
            auto* show = app.add_subcommand("show", "Show one line and its items");
            auto json = std::make_shared<bool>(false);
            auto id = std::make_shared<std::string>();
            list->add_flag("--json", *json, "One JSON object per line (JSON Lines)");
            show->add_option("ID", *id, "The line's id")->required();
            show->add_flag("--json", *json, "The line and its items as JSON");
            return [list, json, id]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              if (list->parsed()) {
                FAB_TRY_ASSIGN(auto summaries, factory.store().summaries());
                if (*json) {
                  for (const auto& s : summaries) std::puts(to_public_json(s.line).dump().c_str());
                  return {};
                }
                Table table({"LINE", "BLUEPRINT", "ITEMS", "MERGED", "DROPPED", "CREATED", "REQUIREMENT"});
                for (const auto& s : summaries) {
                  table.add({s.line.id, s.line.blueprint, std::to_string(s.total()),
                             std::to_string(s.count(ItemState::merged)), std::to_string(s.count(ItemState::dropped)),
                             s.line.created, s.line.requirement});
                }
                std::fputs(table.render().c_str(), stdout);
                return {};
              }
              FAB_TRY_ASSIGN(auto record, factory.store().load_line(*id));
              if (*json) {
                auto j = to_public_json(record.line);
                j["items"] = nlohmann::json::array();
                for (const auto& item : record.items) j["items"].push_back(to_public_json(item));
                std::puts(j.dump().c_str());
                return {};
              }
              std::printf("line %s  blueprint %s  created %s\nrequirement %s\n\n", record.line.id.c_str(),
                          record.line.blueprint.c_str(), record.line.created.c_str(), record.line.requirement.c_str());
              Table table({"ITEM", "STATE", "ATTEMPTS", "CHANGE", "TITLE"});
              for (const auto& item : record.items) {
                table.add({item.id, std::string(to_string(item.state)), std::to_string(item.attempts),
                           short_change(item), item.title});
              }
              std::fputs(table.render().c_str(), stdout);
              return {};
            };
          }};
}

}  // namespace fab::cli
