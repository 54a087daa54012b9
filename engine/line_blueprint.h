#pragma once
// The blueprint a line was stamped with: `lines/<line>/blueprint.yaml` (written by `fab stamp`),
// else the copy kept in line.json ("blueprint_yaml").
#include "blueprints/blueprint.h"
#include "substrate/error.h"
#include "workgraph/item.h"
#include "workgraph/store.h"

namespace fab::engine {

Result<Blueprint> load_line_blueprint(const Store& store, const Line& line);

}  // namespace fab::engine
