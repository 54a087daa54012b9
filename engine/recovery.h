#pragma once
// Crash recovery and rollback. The floor always makes the jj mutation first and writes the state
// second, so whatever instant a run died at, the disk says enough to finish or undo each step:
//   - an item in refining whose change trunk already contains -> merged (the trunk move happened,
//     the state write did not);
//   - an item in building / inspecting / refining -> queued, its interrupted attempt not counted;
//   - a merged item trunk does not contain -> queued (trunk was moved back under it);
//   - every workspace named fab-* (the floor's pool, fab-pool-<n>, or an older fab-<item>; no run
//     owns one when this runs) -> forgotten, directory removed (the item change it was on keeps
//     what its last snapshot recorded; the interrupted attempt is redone);
//     stray directories under .factory/workspaces/ -> removed.
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

// Checks the repo against the work graph and repairs what a crash left half done.
Result<std::vector<Repair>> repair_after_crash(Factory& factory);

// Restores the repo to operation `op` (`jj op restore`) and rolls each item back to the state it
// had then (from its journal: transitions recorded with a later "op" are undone), then repairs.
Result<std::vector<Repair>> recover_to_operation(Factory& factory, const std::string& op);

}  // namespace fab::engine
