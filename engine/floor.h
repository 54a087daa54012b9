#pragma once
// The production floor: `fab run`'s tick loop. One engineer thread makes every jj mutation and
// every state write, one at a time; agents and inspectors run on worker threads, each call in its
// own child process (plugins/host/plugin_call.h). Each tick it:
//   1. collects finished agent / inspector calls. On a line with inspectors the workspace is
//      snapshotted at once (the inspectors run on it), and after the inspectors it is restored to
//      the inspected commit (what they wrote never lands). On a line without inspectors the
//      snapshot is left pending for step 2;
//   2. drops queued items behind a dropped dependency, then starts ready items (queued or rework,
//      dependencies merged) while fewer than the slot limit are building: one `jj rebase` onto
//      trunk for the items starting, then one `jj edit` per item in a workspace of the floor's pool
//      (`fab-pool-<n>`, added when none is free, all forgotten when nothing is in flight or the run ends) — preferably the
//      workspace of a finished item whose snapshot is pending, which that edit makes;
//   3. snapshots the pending items no edit took care of, and sends them on (rework, or refining);
//   4. merges passing items in batches. An item of a line with inspectors goes alone: if trunk
//      moved since it was inspected it is rebased, conflicts go to the refinery plugins, and the
//      result is inspected again before trunk moves to it. Items of a line without inspectors are
//      chained onto each other (the first onto trunk), read once (parents, conflicts, diffs), and
//      trunk moves once to the end of the clean run; the first item with a conflict is taken alone
//      (refinery, its own trunk move). A change that adds conflict markers never lands.
// Order of writes: the jj mutation first, the state second, so recovery (engine/recovery.h) can
// always finish or undo a step a crash interrupted. Every transition records the jj operation id in
// its journal record ("op") and every jj mutation names its item and transition as its cause.
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
  std::optional<int> slots;                   // items building at once over the whole run; else each line's blueprint slots
  bool until_idle = false;                    // return when no item can move
  std::string line;                           // only this line; empty: all lines
  std::chrono::milliseconds grace{10000};     // running agents get this long after a stop request
  std::chrono::milliseconds tick{100};        // longest wait between ticks
  std::function<void(const std::string&)> progress;  // one line per transition; null: silent
  RunEventFn events;                          // each transition, note and idle spell (run_event.h); null: none
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
