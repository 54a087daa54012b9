#pragma once
// The blueprint a line runs with: the YAML kept in its line.json (Line::blueprint_yaml), checked
// against the digest stamped with it, which the line's journal also recorded (so a YAML and digest both
// rewritten in line.json are caught too). Never the `blueprint.yaml` copy next to the journal, which
// is for people to read (an agent may have rewritten it).
#include "blueprints/blueprint.h"
#include "substrate/error.h"
#include "workgraph/item.h"
#include "workgraph/store.h"

namespace fab::engine {

Result<Blueprint> load_line_blueprint(const Store& store, const Line& line);

}  // namespace fab::engine
