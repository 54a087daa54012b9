#pragma once
// The production floor: `fab run`. A planner and an executor:
//   - the planner (engine/plan.h) is one pure function from a View of the factory (lines, items in
//     flight and what each is doing, trunks, slots) to Actions (start, take an agent's result,
//     inspect, land, refine, rework, drop, park, and the recovery repairs);
//   - the executor (this file's Floor) applies each action: the jj mutation first, then one store
//     transition that records the jj operation and the item's attempts; a failure scoped to one
//     item (its workspace gone, a full disk while snapshotting it, its change abandoned, its plugin
//     call crashed) fails that item's attempt and the run goes on.
// One engineer thread makes every jj mutation and every state write; plugin calls (agents,
// inspectors, resolvers) run on worker threads (engine/jobs.h), each in its own child process, so
// no call holds the floor. Every jj call runs from fab's seat or an item's pool workspace, never in
// the user's checkout (Repo::at_seat); trunk is read and moved in one place (engine/trunk.h);
// whatever an agent did with jj is folded back into its item's change (engine/agent_work.h).
// Recovery (engine/recovery.h) builds the view from disk and uses the same planner.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/run_event.h"
#include "plugins/host/plugin_search.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct RunOptions {
  std::optional<int> slots;                   // plugin calls at once over the whole run (default: the machine's cores)
  bool until_idle = false;                    // return when no item can move
  std::string line;                           // only this line; empty: all lines
  std::chrono::milliseconds grace{10000};     // running calls get this long after a stop request
  std::chrono::milliseconds tick{1000};       // longest wait between looks at the store and the stop file
  std::function<void(const std::string&)> progress;  // one line per transition or notice; null: silent
  RunEventFn events;                          // each transition, note and idle spell (run_event.h); null: none
  plugins::HostOptions host;                  // where plugins are found and which fab runs them
};

struct RunReport {
  int merged = 0;
  int dropped = 0;
  int reworked = 0;
  bool stopped = false;                 // stopped by a signal or a stop request
  std::vector<std::string> blocked;     // items that can never start (a dependency was dropped)
  std::vector<std::string> skipped;     // "<line>: why" for lines that could not be set up
  std::vector<std::string> halted;      // "<trunk>: why" for trunks fab stopped landing on
};

// Runs the floor until stopped (or idle, with until_idle). The caller holds the run lock; crash
// repair runs first. On return no workspace of fab's is left and no call is running; items whose
// attempt finished are kept where they got to (the next run carries on from there).
Result<RunReport> run_floor(Factory& factory, const RunOptions& options);

}  // namespace fab::engine
