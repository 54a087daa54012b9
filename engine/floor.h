#pragma once
// The production floor: `fab run`'s tick loop. One engineer thread makes every jj mutation and
// every state write, one at a time; agents and inspectors run on worker threads, each call in its
// own child process (plugins/host/plugin_call.h). Each tick it:
//   1. collects finished agent / inspector calls (snapshot the workspace, then the transition);
//   2. merges passing items in batches: those already on trunk's head and (lines without
//      inspectors) the rest chained onto each other, then one trunk move for the batch; an item
//      that conflicts is taken alone: refinery plugins, re-inspection if the rebase changed
//      anything, its own trunk move. A change that adds conflict markers never lands;
//   3. drops queued items behind a dropped dependency, then starts ready items (queued or
//      rework, dependencies merged) up to the slot limit: one `jj rebase` for the batch onto
//      trunk, then one `jj edit` per item in an idle workspace of the floor's pool (`fab-pool-<n>`,
//      added when none is idle, all forgotten when the run ends).
// Order of writes: the jj mutation first, the state second, so recovery (engine/recovery.h) can
// always finish or undo a step a crash interrupted. Every transition records the jj operation id in
// its journal record ("op") and every jj mutation names its item and transition as its cause.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "plugins/host/plugin_search.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct RunOptions {
  std::optional<int> slots;                   // items building at once over the whole run; else each line's blueprint slots
  bool until_idle = false;                    // return when no item can move
  std::string line;                           // only this line; empty: all lines
  std::chrono::milliseconds grace{10000};     // running agents get this long after a stop request
  std::chrono::milliseconds tick{100};        // longest wait between ticks
  std::function<void(const std::string&)> progress;  // one line per transition; null: silent
  plugins::HostOptions host;                  // where plugins are found and which fab runs them
};

struct RunReport {
  int merged = 0;
  int dropped = 0;
  int reworked = 0;
  bool stopped = false;                 // stopped by a signal or a stop request
  std::vector<std::string> blocked;     // items that can never start (a dependency was dropped)
};

// Runs the floor until stopped (or idle, with until_idle). The caller holds the run lock; crash
// repair runs first. On return no workspace of fab's is left and no item is left in flight.
Result<RunReport> run_floor(Factory& factory, const RunOptions& options);

}  // namespace fab::engine
