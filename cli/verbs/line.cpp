// `fab line list|show|reblueprint|drop`: the production lines, one line with its items, and the
// operator's two ways to change a line (engine/steer.h).
#include <memory>

#include <fmt/format.h>

#include "cli/blueprint_plugins.h"
#include "cli/table.h"
#include "cli/verbs/verbs.h"
#include "engine/steer.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

Status list_lines(const Factory& factory, bool as_json, Output& out) {
  FAB_TRY_ASSIGN(auto summaries, factory.store().summaries());
  if (as_json) {
    std::string text;
    for (const auto& s : summaries) text += to_public_json(s.line).dump() + "\n";
    out.data(text);
    return {};
  }
  Table table({"LINE", "BLUEPRINT", "ITEMS", "MERGED", "DROPPED", "CREATED", "REQUIREMENT"});
  for (const auto& s : summaries) {
    table.add({s.line.dropped.empty() ? s.line.id : s.line.id + " " + out.paint_out(Style::red, "(dropped)"),
               s.line.blueprint, std::to_string(s.total()), std::to_string(s.count(ItemState::merged)),
               std::to_string(s.count(ItemState::dropped)), s.line.created, s.line.requirement});
  }
  out.data(table.render());
  return {};
}

Status show_line(const Factory& factory, const std::string& id, bool as_json, Output& out) {
  FAB_TRY_ASSIGN(auto record, factory.store().load_line(id));
  if (as_json) {
    auto j = to_public_json(record.line);
    j["items"] = nlohmann::json::array();
    for (const auto& item : record.items) j["items"].push_back(to_public_json(item));
    out.data_line(j.dump());
    return {};
  }
  std::string text = fmt::format("line {}  blueprint {}  created {}\nrequirement {}\n", record.line.id,
                                 record.line.blueprint, record.line.created, record.line.requirement);
  if (!record.line.dropped.empty()) text += out.paint_out(Style::red, "dropped") + " " + record.line.dropped + "\n";
  Table table({"ITEM", "STATE", "ATTEMPTS", "CHANGE", "TITLE"});
  for (const auto& item : record.items) {
    table.add({item.id, std::string(to_string(item.state)), std::to_string(item.attempts), short_change(item),
               item.title});
  }
  out.data(text + "\n" + table.render());
  return {};
}

Status reblueprint(Factory& factory, const std::string& id, const std::string& file, Output& out) {
  const auto host = plugins::host_options_from_env(factory.root());
  FAB_TRY_ASSIGN(auto changed, engine::reblueprint_line(factory, id, file, [&host](const Blueprint& bp) {
                   return check_blueprint_plugins(bp, host);
                 }));
  out.status(changed ? fmt::format("line {} runs with the blueprint in {} from now on (its items in flight finish "
                                   "their current step first)",
                                   id, file)
                     : fmt::format("line {} already runs with the blueprint in {}: nothing changed", id, file));
  return {};
}

Status drop(Factory& factory, const std::string& id, const std::string& reason, Output& out) {
  FAB_TRY_ASSIGN(auto done, engine::drop_line(factory, id, reason));
  if (done.already && done.dropped.empty() && done.abandoned.empty()) {
    out.status(fmt::format("line {} was already dropped: nothing changed", id));
    return {};
  }
  for (const auto& item : done.dropped) out.data_line(fmt::format("{} dropped", item));
  for (const auto& c : done.abandoned) out.data_line(fmt::format("{} abandoned", c.short_id(12)));
  std::string text = fmt::format("line {} dropped: {} item(s) dropped, {} change(s) abandoned", id,
                                 done.dropped.size(), done.abandoned.size());
  if (!done.abandoned.empty()) text += " (`jj op restore` to the operation before it brings them back)";
  out.status(text);
  return {};
}

}  // namespace

Verb make_line_verb() {
  return {"line", "List production lines, show one with its items, give one a new blueprint, or drop one", false,
          [](CLI::App& app, const GlobalOptions& global) {
            app.require_subcommand(1);
            auto* list = app.add_subcommand("list", "List the production lines (dropped ones too)");
            auto* show = app.add_subcommand("show", "Show one line and its items");
            auto json = std::make_shared<bool>(false);
            auto id = std::make_shared<std::string>();
            list->add_flag("--json", *json, "One JSON object per line (JSON Lines)");
            show->add_option("ID", *id, "The line's id")->required();
            show->add_flag("--json", *json, "The line and its items as JSON");

            auto file = std::make_shared<std::string>();
            auto* rebp = app.add_subcommand(
                "reblueprint", "Validate a blueprint (and its plugins) and make it the line's from now on");
            rebp->add_option("ID", *id, "The line's id")->required();
            rebp->add_option("FILE", *file, "The new blueprint (YAML)")->required();

            auto reason = std::make_shared<std::string>();
            auto* drop_cmd = app.add_subcommand(
                "drop", "Drop a line: its unfinished items are dropped and their changes abandoned (not while a run works)");
            drop_cmd->add_option("ID", *id, "The line's id")->required();
            drop_cmd->add_option("--reason", *reason, "Why (kept in the journal and each item's drop reason)");

            return [=, &global]() -> Status {
              auto out = global.output();
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              if (list->parsed()) return list_lines(factory, *json, out);
              if (show->parsed()) return show_line(factory, *id, *json, out);
              if (rebp->parsed()) return reblueprint(factory, *id, *file, out);
              return drop(factory, *id, *reason, out);
            };
          }};
}

}  // namespace fab::cli
