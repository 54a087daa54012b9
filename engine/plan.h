#pragma once
// The floor's decisions, as one pure function: a View of the factory (its lines and their items,
// the items in flight and what each is doing, the trunks, the slots) in, Actions out. No jj, no
// files, no clock: every scheduling, landing, stopping and recovery rule is here, and each has a
// unit test that runs in milliseconds (tests/engine/plan_test.cpp). The executor
// (engine/executor.h) carries the actions out; the floor (engine/floor.h) loops: view, plan,
// execute, wait. Recovery builds the view from disk alone (no flights) and uses the same planner.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workgraph/item_state.h"

namespace fab::engine {

enum class ReworkPolicy { continue_change, restart };

// What an item in flight is doing. Absent (no flight): nothing of this process works on it, and
// its stored state says where it is (a `building` item without a flight was interrupted).
enum class Stage {
  agent_running,      // building: its agent's call runs
  agent_finished,     // building: the call ended; its result is waiting to be taken
  inspect_waiting,    // inspecting: the agent's work is recorded; waiting for a slot
  inspect_running,    // inspecting: the inspectors' calls run
  inspect_finished,   // inspecting: they ended; the verdict is waiting to be taken
  land_waiting,       // refining: waiting for its turn to land on trunk
  refine_running,     // refining: resolvers' calls run on its conflicts
  refine_finished,    // refining: they ended; the resolutions are waiting to be written
  reinspect_waiting,  // refining: rebased onto a newer trunk, waiting for a slot to be inspected again
  reinspect_running,
  reinspect_finished,
  failed,             // the attempt failed (its feedback is kept): rework or drop comes next
};

std::string_view to_string(Stage s);
// Stages whose plugin calls count against slots.
bool uses_slot(Stage s);

struct ItemView {
  std::string id;
  ItemState state = ItemState::queued;
  int attempts = 0;
  std::vector<std::string> depends_on;
  bool has_change = true;
  // Recovery facts (read from the repo when the view is built from disk; ignored otherwise).
  bool change_missing = false;    // its change is no longer in the repo
  bool change_divergent = false;  // its change has several visible commits
  bool on_trunk = false;          // trunk contains its change
  int crashes = 0;                // runs this item made fab crash in (see Floor)
};

struct LineView {
  std::string id;
  bool usable = true;       // false: it could not be set up (plugin missing, damaged state, ...)
  std::string problem;      // why not
  std::string trunk;
  int slots = 1;            // its plugin calls at once (agents and inspectors)
  int rework_limit = 5;
  bool has_inspectors = false;
  ReworkPolicy rework = ReworkPolicy::continue_change;
  std::vector<ItemView> items;  // in line order
};

struct FlightView {
  std::string line;
  Stage stage = Stage::agent_running;
  bool ok = false;           // for *_finished: the call's verdict
  bool permanent = false;    // for failed: no retry can fix it ("retry": false, a poison item)
  bool conflicted = false;   // for land_waiting after a land found a conflict: to the resolvers
  bool interrupted = false;  // for *_finished: fab stopped the call (a stop): not a verdict
  long seq = 0;              // for land_waiting: when it got there (landing goes in this order)
};

struct TrunkView {
  bool halted = false;       // moved backwards or sideways (or vanished) behind fab's back
  std::string why;
  bool landing = false;      // a landing on it is under way (one at a time)
};

struct View {
  std::vector<LineView> lines;              // in stamp order
  std::map<std::string, FlightView> flights;  // by item id
  std::map<std::string, TrunkView> trunks;  // by bookmark name
  int slots = 2;                            // plugin calls at once over the whole run
  bool stopping = false;                    // no new work; running calls get the grace period
  bool draining = false;                    // a gc is due (gc.every_merged): nothing starts until the floor is empty
  bool recovering = false;                  // built from disk: no flights, repair what a crash left
  bool resume = true;                       // recovering for a run (carry on) vs `fab recover` alone
};

enum class Do {
  // recovery (view.recovering)
  requeue,          // building without a flight -> queued, the interrupted attempt not counted
  drop_vanished,    // its change is gone -> dropped
  settle_divergent, // keep the commit fab knows, abandon the others
  mark_merged,      // refining and trunk contains it -> merged
  resume_inspect,   // inspecting without a flight -> a flight at inspect_waiting
  resume_land,      // refining without a flight -> a flight at land_waiting
  // the floor
  drop_blocked,     // queued behind a dropped dependency -> dropped
  start,            // items (one line): queued|rework -> building, agent calls started
  take_agent,       // agent_finished: record what it made; -> inspecting, or failed
  inspect,          // inspect_waiting / reinspect_waiting: inspectors' calls started
  take_inspection,  // inspect_finished / reinspect_finished: -> refining / land_waiting, or failed
  land,             // items (one trunk, in order): onto trunk; trunk moves; -> merged
  refine,           // land_waiting with a conflict: resolvers' calls started
  take_refine,      // refine_finished: resolutions written; -> land_waiting / reinspect_waiting, or failed
  rework,           // failed -> rework (the next attempt gets the feedback)
  drop,             // failed, out of attempts or permanent -> dropped
  park,             // stopping: its call ended unfinished (killed): leave it for the next run
};

std::string_view to_string(Do d);

struct Action {
  Do what;
  std::vector<std::string> items;
  std::string line;  // for start
  std::string trunk; // for land
  std::string reason;
};

// The actions to take now, in the order to take them. Applying them and planning again reaches a
// fixpoint (no action) while nothing outside changes.
std::vector<Action> plan(const View& view);

}  // namespace fab::engine
