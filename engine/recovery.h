#pragma once
// Crash recovery and rollback. The floor always makes the jj mutation first and writes the state
// second, so whatever instant a run died at, the disk says enough to finish or undo each step. The
// repairs are the planner's recovery rules (engine/plan.h, View::recovering), applied by the
// executor on a view built from disk:
//   - refining, and trunk contains its change -> merged (the trunk move happened, the write did not);
//   - building -> queued, the interrupted attempt not counted (its change keeps what was recorded);
//   - inspecting / refining -> carried on by the next run (the agent's work is kept);
//   - its change gone -> dropped; its change divergent -> the commit the journal knows is kept;
//   - an item that made fab crash twice -> dropped, with the reason;
//   - every pool workspace (no run owns one when this runs) -> forgotten, its directory removed;
//   - a state saved but not journaled -> journaled.
// Both functions expect the caller to hold the run lock (engine/run_control.h).
#include <string>
#include <vector>

#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct Repair {
  std::string line;  // empty for repairs that are not about one line
  std::string item;  // empty for workspace repairs
  std::string what;  // "refining -> merged: trunk already contains its change", ...
};

// Each line's repairs as one "recovery" record in its journal, with `context` ("crash repair", ...).
Status journal_repairs(Store& store, const std::vector<Repair>& repairs, const std::string& context);

// Checks the repo against the work graph and repairs what a crash left half done.
Result<std::vector<Repair>> repair_after_crash(Factory& factory);

// Restores the repo to operation `op` (`jj op restore`) and rolls each item back to the state it
// had then (from its journal: transitions recorded with a later "op" are undone), then repairs.
// Refused when operations the journal names are gone from the op log (abandoned or trimmed), and
// when `op` is older than a line's stamp.
Result<std::vector<Repair>> recover_to_operation(Factory& factory, const std::string& op);

// Takes trunk where it is now as the base fab continues from (after someone moved it backwards
// or sideways): items merged on the old trunk that it no longer holds go back to the queue, to land
// again on top of it. Returns the repairs.
Result<std::vector<Repair>> accept_trunk(Factory& factory, const std::string& trunk);

}  // namespace fab::engine
