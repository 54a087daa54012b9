#pragma once
// The executor: what the planner's actions do (engine/plan.h). It holds what the floor knows —
// the lines and their set-up, the items in flight and their jobs, the workspace pool, the trunks,
// the operation ledger — builds the View the planner reads, and applies each Action: the jj
// mutation first, then one store transition (with the jj operation and the item's attempts in its
// journal record). A failure scoped to one item fails that item's attempt; only a failure of the
// factory itself (jj cannot read the repo, the store cannot be written) is an error here.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "blueprints/blueprint.h"
#include "engine/checkout_watch.h"
#include "engine/floor.h"
#include "engine/jobs.h"
#include "engine/op_ledger.h"
#include "engine/plan.h"
#include "engine/pool.h"
#include "engine/recovery.h"
#include "engine/trunk.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct LineSetup {
  Blueprint blueprint;
  std::string digest;  // of the blueprint it was made from: `fab line reblueprint` changes it
  PluginStep agent;  // (options: the line's environment policy; the sandbox's places are per call)
  std::vector<PluginStep> inspectors;
  std::vector<PluginStep> resolvers;
};

// An item this process works on.
struct Flight {
  Flight(std::string line_id, std::string item_id, ChangeId change_id)
      : line(std::move(line_id)), item(std::move(item_id)), change(std::move(change_id)) {}
  std::string line, item;
  ChangeId change;
  int attempt = 0;
  Stage stage = Stage::agent_running;
  Slot* slot = nullptr;
  std::unique_ptr<Job> job;
  JobResult result;         // of the agent's or the inspectors' calls
  RefineResult refine;      // of the resolvers'
  std::string base;         // the trunk commit its change was put on last
  std::string known;        // its commit as fab last made or saw it
  std::string inspected;    // the commit the inspectors judged
  std::string checked;      // the commit found free of conflict markers
  std::map<std::string, std::string> resolved_by;  // path -> the resolver that wrote it since the agent ran
  std::string feedback;
  bool permanent = false;
  bool conflicted = false;  // landing found a conflict: to the resolvers
  bool prestart = false;    // the conflict was found when the attempt started: the agent runs after
  bool interrupted = false;
  bool abnormal = false;    // its workspace is not reused
  long seq = 0;
  std::vector<std::string> undone;  // what fab undid of what its calls did
  std::set<std::string> touched;    // files of the user's checkout that changed while its call ran
  std::filesystem::path git_admin;  // its workspace's git worktree directory when its call started, if any
};

class Executor {
 public:
  Executor(Factory& factory, const RunOptions& options);
  ~Executor();

  // Loads the lines and sets each up (a line that cannot be is skipped and reported), reads the
  // trunks, repairs what a crash left (the recovery plan), and with `resume` takes the items a
  // stop or a crash left inspecting or refining back in flight.
  Result<std::vector<Repair>> start(bool resume);

  View view() const;
  // Applies one action; item-scoped failures fail the item's attempt, not the call.
  Status execute(const Action& action);
  // Calls that ended: their flights move to *_finished. True if any did.
  bool harvest();
  // What happened outside since the last look (other processes' store writes, someone's jj
  // operations, git commits): lines re-read, trunks refreshed, agents' bookmark moves put back.
  Status observe();
  // Forgets the workspace pool when nothing is in flight.
  Status idle();
  // Ends the run: every flight is parked (finished work stays where it got to), the pool forgotten.
  Status finish();

  bool any_call_running() const;
  bool any_flight() const { return !m_flights.empty(); }
  // Every flight waits on a trunk fab stopped landing on (and no call runs): nothing moves until
  // `fab recover --accept-trunk`.
  bool all_flights_blocked() const;
  // gc.every_merged items merged since the last collection: the floor drains (nothing starts),
  // then idle() collects.
  bool gc_due() const;
  void set_stopping() { m_stopping = true; }
  void kill_calls();
  // Blocks until a call ends or `timeout` passes.
  void wait(std::chrono::milliseconds timeout);

  RunReport& report() { return m_report; }

 private:
  // --- the actions ---
  Status requeue(const std::string& item, const std::string& reason);
  Status start_items(const Action& a);
  Status begin_attempt(Flight& f);
  Status take_agent(Flight& f);
  Status inspect(Flight& f);
  Status take_inspection(Flight& f);
  Status land(const Action& a);
  Status land_one(Flight& f, const std::string& trunk);
  Status land_chain(const std::vector<std::string>& items, const std::string& trunk);
  Status refine(Flight& f);
  Status take_refine(Flight& f);
  Status end_attempt(Flight& f, ItemState to, const std::string& reason);
  Status recovery_action(const Action& a);

  // --- helpers ---
  Result<Item> move(const Flight& f, ItemState from, ItemState to, const std::string& reason,
                    nlohmann::json extra = nlohmann::json::object(), const ItemMutator& mutate = {});
  Result<Item> store_transition(const std::string& item, ItemState to, const std::string& reason,
                                nlohmann::json extra, const ItemMutator& mutate = {},
                                TransitionKind kind = TransitionKind::normal);
  void fail_flight(Flight& f, const std::string& feedback, bool permanent = false);
  Repo repo_for(const Flight& f, const std::string& what) const;
  // Runs one of fab's jj mutations, telling the ledger it is fab's.
  Status own(const std::function<Status()>& mutate);
  // Puts back the git refs the flight's last call changed in its worktree (restore_git_refs_of)
  // and tells jj; what was undone goes to f.undone. Also when the call deleted its workspace.
  Status put_back_git_refs(Flight& f, const std::string& phase);
  template <class T>
  Result<T> own_r(const std::function<Result<T>()>& mutate);
  Result<OperationChanges> changes_of(const std::string& op);
  // A transition: a progress line (the reason only when it adds to the attempt count) and an event.
  void moved(const std::string& line, const std::string& item, ItemState from, ItemState to, int attempts,
             const std::string& reason) const;
  void note(const std::string& text, const std::string& line = {}, const std::string& item = {}) const;
  void record_steps(const Flight& f, const std::vector<CallStep>& steps);
  nlohmann::json work_request(const Item& item, const Flight& f, const std::filesystem::path& item_file) const;
  PluginStep with_paths(PluginStep step, const Flight& f) const;
  void spawn(Flight& f, std::function<void(Flight&)> work);
  Result<Slot*> workspace_for(Flight& f, const std::string& what);
  void release_slot(Flight& f);
  Result<LineSetup*> setup_line(const Line& line);
  Status load_lines();
  Status reload_line(const std::string& id);
  Result<Item> find(const std::string& item) const;
  const std::string& trunk_of(const std::string& line) const;
  bool health_check() const;  // jj can read the repo and the store can be written
  std::vector<ForeignOp> ops_of(const std::string& item) const;
  // Notes the operation fab just made in a pool workspace as fab's (.factory/pool-ops, read by
  // `fab oplog`: an operation there that is not listed is an agent's, whatever cause it claims).
  void note_pool_op(const std::string& since = {}, const std::string& workspace = {});
  // A call forgot its own workspace: a fresh one at the item's change gets the files it left.
  Status adopt_workspace(Flight& f);
  Status requeue_relanded();
  void watch_checkout();
  // `gc.every_merged` items merged since the last collection, and no workspace of the pool left:
  // `fab gc` with the factory's keep_operations (a failure is a note, not a stop).
  void collect_garbage_if_due();
  // After one of fab's steps for `item` failed: the operations no one accounted for yet are read
  // and the harmful ones reverted; what another item's call did that fab reverted is returned (empty:
  // nothing), for the step's failure is then not this item's.
  Result<std::string> harm_by_others(const std::string& item);
  // The flight ends and its item goes back to the queue, its attempt not counted, saying why.
  Status requeue_flight(const std::string& id, const std::string& why);
  int m_merged_at_gc = 0;
  std::string m_repair_reason;  // what the last recovery action did, for its repair line
  Status revert_harm(const std::vector<ForeignOp>& fresh);

  Factory& m_factory;
  const RunOptions& m_options;
  plugins::HostOptions m_host;  // m_options.host, with the workspaces' and fab's state dirs untrusted
  RunReport m_report;
  OpLedger m_ledger;
  TrunkKeeper m_trunks;
  WorkspacePool m_pool;
  std::map<std::string, LineSetup> m_setups;        // usable lines
  std::map<std::string, std::string> m_problems;    // lines that cannot run: why
  std::map<std::string, LineRecord> m_records;      // by line id, as last read
  std::vector<std::string> m_line_order;            // stamp order
  std::map<std::string, Flight> m_flights;          // by item id
  std::map<std::string, OperationChanges> m_changes;  // by operation id (cache)
  std::vector<ForeignOp> m_foreign;                 // operations others made, since the run began
  std::set<std::string> m_reverted;                 // ... of those, the ones fab reverted at once
  std::map<std::string, std::set<std::string>> m_made;  // item -> commits its calls made
  std::map<std::string, std::filesystem::file_time_type> m_seen_stamp;  // line.json / journal times read
  std::map<std::string, int> m_crashes;             // item -> crashes recorded by the crash guard
  std::unique_ptr<CheckoutWatch> m_watch;
  std::set<std::string> m_land_blocked;  // trunks a compare-and-swap found moved: wait for the next look
  long m_seq = 0;
  bool m_stopping = false;
  bool m_recovering = false;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  int m_finished = 0;
};

}  // namespace fab::engine
