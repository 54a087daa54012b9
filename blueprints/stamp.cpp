#include "blueprints/stamp.h"

#include <fmt/format.h>

#include "workgraph/durable_file.h"

namespace fab {

std::string item_change_description(const std::string& title, const std::string& line_id,
                                    const std::string& item_id) {
  return fmt::format("{}\n\nfab-line: {}\nfab-item: {}\n", title, line_id, item_id);
}

nlohmann::json to_json(const StampResult& result) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : result.items) items.push_back(to_public_json(item));
  return {{"line", result.line.id}, {"blueprint", result.blueprint.name}, {"items", items}};
}

Result<StampResult> stamp(Factory& factory, const std::filesystem::path& blueprint_file,
                          const std::filesystem::path& requirement_file, bool dry_run) {
  FAB_TRY_ASSIGN(auto blueprint, parse_blueprint_file(blueprint_file));
  FAB_TRY_ASSIGN(auto requirement, parse_requirement_file(requirement_file, blueprint.decompose));

  StampResult result;
  result.blueprint = blueprint;
  result.dry_run = dry_run;
  result.line.blueprint = blueprint.name;
  result.line.requirement = std::filesystem::absolute(requirement_file).lexically_normal().string();
  if (dry_run) {
    result.line.id = "(dry-run)";
  } else {
    FAB_TRY_ASSIGN(result.line.id, factory.store().new_line_id());
  }
  const auto& line_id = result.line.id;
  for (std::size_t i = 0; i < requirement.sections.size(); ++i) {
    const auto& section = requirement.sections[i];
    Item item;
    item.id = fmt::format("{}.{}", line_id, i + 1);
    item.line = line_id;
    item.title = section.title;
    item.body = section.body;
    item.state = ItemState::queued;
    for (auto dep : section.depends_on) item.depends_on.push_back(fmt::format("{}.{}", line_id, dep + 1));
    result.items.push_back(std::move(item));
  }
  if (dry_run) return result;

  Repo repo = factory.repo().with_cause(fmt::format("{}: stamp", line_id));
  FAB_TRY_ASSIGN(auto trunk, repo.bookmark(blueprint.trunk));
  if (!trunk) {
    const auto& factory_trunk = factory.config().trunk;
    return fail(fmt::format("the blueprint's trunk bookmark '{}' does not exist in this repo", blueprint.trunk),
                factory_trunk != blueprint.trunk
                    ? fmt::format("this factory's trunk is '{}': write `trunk: {}` in the blueprint (a blueprint "
                                  "without `trunk:` lands on main), or create '{}' with `jj bookmark create {} -r <rev>`",
                                  factory_trunk, factory_trunk, blueprint.trunk, blueprint.trunk)
                    : fmt::format("create it with `fab init --trunk {}` or `jj bookmark create {} -r <rev>`",
                                  blueprint.trunk, blueprint.trunk));
  }
  std::vector<std::string> descriptions;
  for (const auto& item : result.items) descriptions.push_back(item_change_description(item.title, line_id, item.id));
  FAB_TRY_ASSIGN(auto changes, repo.create_changes(trunk->commit_id, descriptions));
  for (std::size_t i = 0; i < changes.size(); ++i) result.items[i].change_id = changes[i].str();

  // The blueprint travels with the line (inside line.json, so it is written atomically with it).
  result.line.extra["blueprint_file"] = std::filesystem::absolute(blueprint_file).lexically_normal().string();
  result.line.extra["blueprint_yaml"] = blueprint.source_text;
  result.line.extra["trunk"] = blueprint.trunk;
  if (auto created = factory.store().create_line(result.line, result.items); !created) {
    // All or nothing: the changes made for this line go again.
    if (auto undone = repo.with_cause(fmt::format("{}: stamp failed, undo", line_id)).abandon(changes); !undone) {
      return fail(created.error().context("stamp failed").caused_by(
          "and abandoning its changes failed too: " + undone.error().message));
    }
    return fail(created.error().context("stamp failed; its changes were abandoned"));
  }
  // Copies for people to read next to the journal.
  const auto dir = factory.store().line_dir(line_id);
  FAB_TRY(write_file_atomic(dir / "blueprint.yaml", blueprint.source_text));
  FAB_TRY_ASSIGN(auto req_text, read_file_text(requirement_file));
  FAB_TRY(write_file_atomic(dir / "requirement.md", req_text));
  FAB_TRY_ASSIGN(auto record, factory.store().load_line(line_id));
  result.line = record.line;
  result.items = record.items;
  return result;
}

}  // namespace fab
