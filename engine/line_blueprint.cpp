#include "engine/line_blueprint.h"

#include <fmt/format.h>

namespace fab::engine {

namespace {

// The trunk the line was stamped for wins over the blueprint's default.
Result<Blueprint> with_line_trunk(Result<Blueprint> bp, const Line& line) {
  if (!bp) return bp;
  if (auto it = line.extra.find("trunk"); it != line.extra.end() && it->is_string()) bp->trunk = it->get<std::string>();
  return bp;
}

}  // namespace

Result<Blueprint> load_line_blueprint(const Store& store, const Line& line) {
  auto file = store.line_dir(line.id) / "blueprint.yaml";
  if (std::filesystem::exists(file)) return with_line_trunk(parse_blueprint_file(file), line);
  if (auto it = line.extra.find("blueprint_yaml"); it != line.extra.end() && it->is_string()) {
    return with_line_trunk(
        parse_blueprint(it->get<std::string>(), fmt::format("line {} (line.json blueprint_yaml)", line.id)), line);
  }
  return fail(fmt::format("line {} has no blueprint ({} is missing)", line.id, file.string()),
              "stamp the requirement again with `fab stamp`");
}

}  // namespace fab::engine
