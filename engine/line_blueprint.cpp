#include "engine/line_blueprint.h"

#include <fmt/format.h>

namespace fab::engine {

Result<Blueprint> load_line_blueprint(const Store& store, const Line& line) {
  const auto file = store.line_dir(line.id) / "line.json";
  if (line.blueprint_yaml.empty()) {
    return fail(fmt::format("line {} has no blueprint ({} keeps none)", line.id, file.string()),
                "stamp the requirement again with `fab stamp`");
  }
  if (line.blueprint_digest != blueprint_digest(line.blueprint_yaml)) {
    return fail(fmt::format("line {}: the blueprint kept in {} was changed behind fab's back (its digest is {}, "
                            "it was stamped as {})",
                            line.id, file.string(), blueprint_digest(line.blueprint_yaml),
                            line.blueprint_digest.empty() ? "(none)" : line.blueprint_digest),
                "replace a line's blueprint only with `fab line reblueprint`, or stamp the requirement again");
  }
  // The digest itself could have been rewritten in line.json with the YAML: the journal says which
  // blueprint the line was stamped (or reblueprinted) with.
  FAB_TRY_ASSIGN(auto stamped, store.stamped_blueprint_digest(line.id));
  if (stamped != line.blueprint_digest) {
    return fail(fmt::format("line {}: the blueprint kept in {} was changed behind fab's back (its digest is {}, "
                            "the line's journal says it was stamped as {})",
                            line.id, file.string(), line.blueprint_digest, stamped.empty() ? "(none)" : stamped),
                "replace a line's blueprint only with `fab line reblueprint`, or stamp the requirement again");
  }
  auto bp = parse_blueprint(line.blueprint_yaml, fmt::format("line {} blueprint", line.id));
  if (!bp) return bp;
  // The trunk the line was stamped for wins over the blueprint's default.
  if (!line.trunk.empty()) bp->trunk = line.trunk;
  return bp;
}

}  // namespace fab::engine
