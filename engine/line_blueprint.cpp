#include "engine/line_blueprint.h"

#include <fmt/format.h>

namespace fab::engine {

Result<Blueprint> load_line_blueprint(const Store& store, const Line& line) {
  auto file = store.line_dir(line.id) / "blueprint.yaml";
  if (std::filesystem::exists(file)) return parse_blueprint_file(file);
  if (auto it = line.extra.find("blueprint_yaml"); it != line.extra.end() && it->is_string()) {
    return parse_blueprint(it->get<std::string>(), fmt::format("line {} (line.json blueprint_yaml)", line.id));
  }
  return fail(fmt::format("line {} has no blueprint ({} is missing)", line.id, file.string()),
              "stamp the requirement again with `fab stamp`");
}

}  // namespace fab::engine
