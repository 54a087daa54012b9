#include "engine/floor.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "blueprints/blueprint.h"
#include "engine/cause.h"
#include "engine/conflict_markers.h"
#include "engine/item_files.h"
#include "engine/line_blueprint.h"
#include "engine/recovery.h"
#include "engine/run_control.h"
#include "plugins/host/plugin_call.h"
#include "plugins/resolve/conflict_markers.h"
#include "substrate/process.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;
using plugins::PluginKind;
using plugins::PluginRef;
using Clock = std::chrono::steady_clock;

// What an agent or the inspectors said.
struct JobResult {
  bool ok = false;
  std::string feedback;  // why not (becomes the next attempt's input)
  std::string log;       // kept on disk next to the attempt
};

// One call sequence on a worker thread. It touches no jj and no state: only plugin children.
class Job {
 public:
  Job(std::function<JobResult()> work, std::function<void()> notify) {
    m_thread = std::thread([this, work = std::move(work), notify = std::move(notify)] {
      m_result = work();
      m_done.store(true);
      notify();
    });
  }
  ~Job() {
    if (m_thread.joinable()) m_thread.join();
  }
  bool done() const { return m_done.load(); }
  JobResult take() {
    m_thread.join();
    return std::move(m_result);
  }

 private:
  JobResult m_result;
  std::atomic<bool> m_done{false};
  std::thread m_thread;
};

struct PluginStep {
  PluginUse use;
  PluginRef ref;
};

struct LineSetup {
  Blueprint blueprint;
  PluginStep agent;
  std::vector<PluginStep> inspectors;
  std::vector<PluginStep> refiners;
};

// agent: the agent is running. snapshot_pending: it finished (line without inspectors) and its
// workspace's files are not snapshotted yet; the next `jj edit` there does it, or one snapshot call
// the same tick. inspect / reinspect: inspectors running (before / after the rebase onto trunk).
// await_merge: in the merge queue.
enum class Phase { agent, snapshot_pending, inspect, await_merge, reinspect };

struct Active {
  std::string line;
  std::string item;
  ChangeId change;
  int attempt = 0;
  Phase phase = Phase::agent;
  fs::path workspace;
  std::unique_ptr<Job> job;
  std::string checked_commit;  // the commit whose diff was found free of conflict markers
  std::string inspected;       // the commit the inspectors are looking at (restored after them)
  JobResult agent_result;      // held while the snapshot is pending
  int trunk_moves_at_start = -1;  // Floor::m_trunk_moves[trunk] when it was rebased onto trunk's head
  std::map<std::string, std::string> resolved_by;  // path -> the refinery that wrote it this attempt
};

// A jj workspace the floor keeps while items are in flight and hands from item to item (one `jj edit`
// instead of `jj workspace add` + `forget`). An idle one stays on the last item's change (items'
// changes are described, so `jj edit` elsewhere never abandons them).
struct PoolWorkspace {
  std::string name;  // fab-pool-<n>: recovery forgets it like any fab-* workspace
  fs::path dir;
  std::optional<ChangeId> at;
  bool busy = false;
};

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }
std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}
// One line saying why an attempt failed: the feedback's first line, and when that only introduces
// what follows ("inspector command failed:"), the first line that says something.
std::string summary_of(const std::string& feedback) {
  std::string out = first_line(feedback);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\r')) out.pop_back();
  if (out.empty() || out.back() != ':') return out;
  std::size_t at = feedback.find('\n');
  while (at != std::string::npos && at + 1 < feedback.size()) {
    std::string next = first_line(feedback.substr(at + 1));
    const auto b = next.find_first_not_of(" \t\r");
    if (b != std::string::npos) {
      next = next.substr(b);
      if (next.size() > 200) next = next.substr(0, 197) + "...";
      return out + " " + next;
    }
    at = feedback.find('\n', at + 1);
  }
  return out;
}

std::chrono::milliseconds timeout_of(const PluginUse& use) {
  return std::chrono::seconds(use.timeout_s > 0 ? use.timeout_s : 600);
}

JobResult run_agent(const PluginStep& agent, const nlohmann::json& request) {
  auto r = plugins::call_plugin(agent.ref, request, timeout_of(agent.use));
  if (!r) {
    auto text = r.error().render();
    return {false, "the agent gave no answer:\n" + text, text};
  }
  JobResult out;
  out.ok = r->ok;
  const auto summary = r->response.value("summary", std::string{});
  const auto transcript = r->response.value("transcript", std::string{});
  out.log = fmt::format("summary: {}\n\n--- transcript ---\n{}\n--- diagnostics ---\n{}", summary, transcript,
                        r->diagnostics);
  if (!out.ok) out.feedback = fmt::format("the agent failed: {}\n{}", summary, tail(transcript, 4000));
  return out;
}

JobResult run_inspectors(const std::vector<PluginStep>& inspectors, nlohmann::json request) {
  JobResult out{true, "", ""};
  for (const auto& step : inspectors) {
    request["with"] = step.use.with;
    request["timeout_s"] = step.use.timeout_s;
    auto r = plugins::call_plugin(step.ref, request, timeout_of(step.use));
    if (!r) {
      auto text = r.error().render();
      out.log += fmt::format("--- inspector {}: no answer ---\n{}\n", step.use.plugin, text);
      return {false, fmt::format("inspector {} gave no answer:\n{}", step.use.plugin, text), out.log};
    }
    const auto feedback = r->response.value("feedback", std::string{});
    out.log += fmt::format("--- inspector {}: {} ---\n{}\n{}\n", step.use.plugin, r->ok ? "pass" : "FAIL", feedback,
                           r->diagnostics);
    if (!r->ok) return {false, fmt::format("inspector {} failed:\n{}", step.use.plugin, tail(feedback, 4000)), out.log};
  }
  return out;
}

class Floor {
 public:
  Floor(Factory& factory, const RunOptions& options) : m_factory(factory), m_options(options) {}

  Result<RunReport> run() {
    FAB_TRY_ASSIGN(auto repairs, repair_after_crash(m_factory));
    for (const auto& r : repairs) {
      say(fmt::format("recovered {}{}", r.item.empty() ? "" : r.item + " ", r.what));
    }
    clear_stop_request(m_factory);
    StopSignals signals;
    auto status = loop();
    if (!status) {
      abort_jobs();
      return fail(status.error());
    }
    FAB_TRY(park_all());
    FAB_TRY(forget_pool());
    clear_stop_request(m_factory);
    return m_report;
  }

 private:
  // --- the loop ----------------------------------------------------------------------------------

  Status loop() {
    for (;;) {
      if (!m_stopping && (StopSignals::received() > 0 || stop_requested(m_factory))) {
        m_stopping = true;
        m_stop_time = Clock::now();
        m_report.stopped = true;
        say("stopping: no new work starts; running agents get " +
            std::to_string(m_options.grace.count() / 1000) + " s to finish");
      }
      FAB_TRY(harvest());
      if (m_stopping) {
        if (!any_job_running()) return {};
        if (!m_killed && Clock::now() - m_stop_time > m_options.grace) {
          say("grace period over: stopping running agents");
          kill_all_children();
          m_killed = true;
        }
      } else {
        // Starting first lets each new item's `jj edit` snapshot the finished item that held its
        // workspace (one jj call for both), and new agents run while the finished items merge.
        FAB_TRY(start_ready());
        FAB_TRY(settle_finished());
        FAB_TRY(merge_ready());
        if (m_options.until_idle && m_active.empty()) {
          FAB_TRY(start_ready());  // what this tick's merges made ready
          if (m_active.empty()) return {};
        }
        // Nothing in flight: no workspace is kept while the floor waits for new work.
        if (m_active.empty()) FAB_TRY(forget_pool());
      }
      std::unique_lock lock(m_mutex);
      m_wake.wait_for(lock, m_options.tick, [this] { return m_finished > 0; });
      m_finished = 0;
    }
  }

  bool any_job_running() const {
    for (const auto& [id, a] : m_active) {
      if (a.job) return true;
    }
    return false;
  }

  void abort_jobs() {
    kill_all_children();
    m_active.clear();  // joins every worker
  }

  void say(const std::string& text) const {
    if (m_options.progress) m_options.progress("fab: " + text);
  }

  // --- lines and their blueprints -----------------------------------------------------------------

  Result<LineSetup*> setup_for(const Line& line) {
    if (auto it = m_setups.find(line.id); it != m_setups.end()) return &it->second;
    FAB_TRY_ASSIGN(auto bp, load_line_blueprint(m_factory.store(), line));
    LineSetup s;
    auto resolve = [&](const PluginUse& use, PluginKind kind) -> Result<PluginStep> {
      // Found and checked (loads, ABI, callbacks, kind) in a child, once per run, before any call.
      auto ref = plugins::find_valid_plugin(use.plugin, kind, m_options.host);
      if (!ref) return fail(ref.error().context(fmt::format("line {}: blueprint {}", line.id, bp.source_path)));
      return PluginStep{use, *ref};
    };
    FAB_TRY_ASSIGN(s.agent, resolve(bp.agent, PluginKind::agent));
    for (const auto& use : bp.inspect) {
      FAB_TRY_ASSIGN(auto step, resolve(use, PluginKind::inspector));
      s.inspectors.push_back(std::move(step));
    }
    for (const auto& use : bp.refine) {
      FAB_TRY_ASSIGN(auto step, resolve(use, PluginKind::refinery));
      s.refiners.push_back(std::move(step));
    }
    FAB_TRY_ASSIGN(auto trunk, m_factory.repo().bookmark(bp.trunk));
    if (!trunk) {
      return fail(fmt::format("line {}: the trunk bookmark '{}' does not exist", line.id, bp.trunk),
                  fmt::format("create it with `jj bookmark create {} -r <revision>`", bp.trunk));
    }
    s.blueprint = std::move(bp);
    return &m_setups.emplace(line.id, std::move(s)).first->second;
  }

  Result<std::vector<Line>> lines() const {
    FAB_TRY_ASSIGN(auto all, m_factory.store().lines());
    if (m_options.line.empty()) return all;
    for (auto& l : all) {
      if (l.id == m_options.line) return std::vector<Line>{l};
    }
    return fail(fmt::format("no line '{}' in this factory", m_options.line), "list the lines with `fab status`");
  }

  // --- jj and state helpers ------------------------------------------------------------------------

  Repo repo_for(const std::string& line, const std::vector<std::string>& items, const std::string& what) const {
    return m_factory.repo().with_cause(format_cause(line, items, what));
  }

  Result<Item> move(const Active& a, ItemState from, ItemState to, const std::string& reason,
                    nlohmann::json extra = nlohmann::json::object(), const ItemMutator& mutate = {}) {
    FAB_TRY_ASSIGN(auto op, m_factory.repo().current_operation());
    extra["op"] = op;
    FAB_TRY_ASSIGN(auto before, m_factory.store().find_item(a.item));
    Item probe = before;
    if (mutate) mutate(probe);
    extra["attempts"] = probe.attempts;
    FAB_TRY_ASSIGN(auto item, m_factory.store().transition(a.item, to, reason, extra, mutate));
    say(fmt::format("{} {} -> {} (attempt {}){}", a.item, to_string(from), to_string(to), item.attempts,
                    reason.empty() ? "" : ": " + first_line(reason)));
    return item;
  }

  // The item is done with its workspace: it goes back to the pool (no jj call).
  void release_workspace(const Active& a) {
    for (auto& w : m_pool) {
      if (w.dir == a.workspace) w.busy = false;
    }
  }

  // A pool workspace whose working copy is `change`: the idle one already there; else one holding a
  // finished item's unsnapshotted work (the `jj edit` snapshots it first: one jj call for both);
  // else any idle one (one `jj edit`); else a new one.
  Result<fs::path> acquire_workspace(const std::string& line, const std::string& item, const ChangeId& change,
                                     const std::string& what) {
    PoolWorkspace* pick = nullptr;
    Active* folded = nullptr;  // the finished item whose snapshot this edit makes
    for (auto& w : m_pool) {
      if (!w.busy && w.at == change) pick = &w;
    }
    for (const auto& id : m_pending) {
      Active& p = m_active.at(id);
      for (auto& w : m_pool) {
        if (!pick && !p.workspace.empty() && w.dir == p.workspace) {
          pick = &w;
          folded = &p;
        }
      }
    }
    for (auto& w : m_pool) {
      if (!pick && !w.busy) pick = &w;
    }
    if (pick) {
      const auto detail = folded ? fmt::format(" (edit in {}, snapshotting {})", pick->name, folded->item)
                                 : " (edit in " + pick->name + ")";
      FAB_TRY(repo_for(line, {item}, what + detail).edit_in_workspace(pick->dir, change));
      if (folded) folded->workspace.clear();  // its work is in its change now; the workspace is this item's
    } else {
      const auto n = std::to_string(m_pool.size() + 1);
      PoolWorkspace w{workspace_name("pool-" + n), workspace_dir(m_factory, "pool-" + n), std::nullopt, false};
      std::error_code ec;
      if (fs::exists(w.dir, ec)) fs::remove_all(w.dir, ec);
      FAB_TRY(repo_for(line, {item}, what + " (add workspace)").add_workspace(w.name, w.dir, change));
      m_pool.push_back(std::move(w));
      pick = &m_pool.back();
    }
    pick->at = change;
    pick->busy = true;
    return pick->dir;
  }

  // Forgets every pool workspace (one jj call) and removes their directories.
  Status forget_pool() {
    if (m_pool.empty()) return {};
    std::vector<std::string> args{"workspace", "forget"};
    for (const auto& w : m_pool) args.push_back(w.name);
    FAB_TRY(m_factory.repo().with_cause("fab run: idle (forget workspaces)").run(args));
    for (const auto& w : m_pool) {
      std::error_code ec;
      fs::remove_all(w.dir, ec);
      if (ec) return fail(fmt::format("cannot remove '{}': {}", w.dir.string(), ec.message()));
    }
    m_pool.clear();
    return {};
  }

  nlohmann::json work_request(const Item& item, const Active& a, const fs::path& item_file) const {
    return {{"line_id", item.line},     {"item_id", item.id},       {"title", item.title},
            {"body", item.body},        {"change_id", item.change_id}, {"attempt", a.attempt},
            {"workspace", a.workspace.string()}, {"item_file", item_file.string()},
            {"feedback", item.extra.value("feedback", std::string{})}};
  }

  std::unique_ptr<Job> spawn(std::function<JobResult()> work) {
    return std::make_unique<Job>(std::move(work), [this] {
      std::lock_guard lock(m_mutex);
      ++m_finished;
      m_wake.notify_one();
    });
  }

  // An attempt failed: rework, or dropped once the attempts are used up. Releases the workspace.
  Status fail_attempt(Active& a, ItemState from, const std::string& feedback) {
    const auto& bp = m_setups.at(a.line).blueprint;
    FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
    if (item.attempts >= bp.rework_limit) {
      auto reason = fmt::format("failed {} of {} attempts; last: {}", item.attempts, bp.rework_limit,
                                summary_of(feedback));
      FAB_TRY(move(a, from, ItemState::dropped, reason, {{"feedback", feedback}},
                   [&](Item& i) { i.drop_reason = reason; i.extra["feedback"] = feedback; }));
      ++m_report.dropped;
    } else {
      FAB_TRY(move(a, from, ItemState::rework, summary_of(feedback), {{"feedback", feedback}},
                   [&](Item& i) { i.extra["feedback"] = feedback; }));
      ++m_report.reworked;
    }
    release_workspace(a);
    m_active.erase(a.item);
    return {};
  }

  // --- 1. finished calls ---------------------------------------------------------------------------

  Status harvest() {
    std::vector<std::string> done;
    for (auto& [id, a] : m_active) {
      if (a.job && a.job->done()) done.push_back(id);
    }
    for (const auto& id : done) {
      Active& a = m_active.at(id);
      auto result = a.job->take();
      a.job.reset();
      FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(id));
      switch (a.phase) {
        case Phase::agent: FAB_TRY(agent_done(a, item, std::move(result))); break;
        case Phase::inspect: FAB_TRY(inspect_done(a, item, result)); break;
        case Phase::reinspect: FAB_TRY(reinspect_done(a, item, result)); break;
        case Phase::snapshot_pending:
        case Phase::await_merge: break;
      }
    }
    return {};
  }

  Status agent_done(Active& a, const Item& item, JobResult result) {
    write_attempt_log(m_factory, item, a.attempt, "agent", result.log);
    // Whatever the agent wrote is kept in the item's change, even when it failed or we stop. On a
    // line without inspectors nothing else runs in the workspace, so the snapshot can wait for the
    // next `jj edit` there (start_ready) or settle_finished, later this tick; the conflict and
    // marker checks then happen on the rebased result, before trunk moves (merge_batch).
    if (m_setups.at(a.line).inspectors.empty() && !m_stopping) {
      a.phase = Phase::snapshot_pending;
      a.agent_result = std::move(result);
      m_pending.push_back(a.item);
      return {};
    }
    std::string diff;
    FAB_TRY_ASSIGN(auto snap,
                   repo_for(a.line, {a.item}, "building (snapshot)").snapshot_workspace(a.workspace, &diff));
    if (m_stopping) return {};  // parked at the end of the run
    if (!result.ok) return fail_attempt(a, ItemState::building, result.feedback);
    if (snap.conflict) {
      FAB_TRY_ASSIGN(auto paths, m_factory.repo().conflicted_paths(a.change));
      std::string list;
      for (const auto& p : paths) list += "  " + p + "\n";
      return fail_attempt(a, ItemState::building,
                          "the working copy still has conflicts with trunk (jj's conflict markers are in these "
                          "files; resolve them):\n" + list);
    }
    FAB_TRY_ASSIGN(auto marked, added_conflict_markers(m_factory.repo(), snap.commit_id, diff));
    if (!marked.empty()) return fail_attempt(a, ItemState::building, conflict_marker_feedback(marked));
    a.checked_commit = snap.commit_id;  // same commit, same diff: no need to read it again
    a.inspected = snap.commit_id;
    FAB_TRY(move(a, ItemState::building, ItemState::inspecting, "agent finished"));
    return start_inspection(a, item, Phase::inspect);
  }

  // The finished agents whose snapshot is pending: snapshot those no `jj edit` took care of (one
  // call each), then on to inspection (none on these lines) and the merge queue, or rework.
  Status settle_finished() {
    auto pending = std::move(m_pending);
    m_pending.clear();
    for (const auto& id : pending) {
      Active& a = m_active.at(id);
      if (!a.workspace.empty()) {
        FAB_TRY(repo_for(a.line, {a.item}, "building (snapshot)").snapshot_workspace(a.workspace));
        release_workspace(a);
        a.workspace.clear();
      }
      const JobResult result = std::move(a.agent_result);
      if (!result.ok) {
        FAB_TRY(fail_attempt(a, ItemState::building, result.feedback));
        continue;
      }
      FAB_TRY(move(a, ItemState::building, ItemState::inspecting, "agent finished"));
      FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
      FAB_TRY(start_inspection(a, item, Phase::inspect));
    }
    return {};
  }

  Status start_inspection(Active& a, const Item& item, Phase phase) {
    const auto& setup = m_setups.at(a.line);
    a.phase = phase;
    if (setup.inspectors.empty()) {
      JobResult pass{true, "", ""};
      return phase == Phase::inspect ? inspect_done(a, item, pass) : reinspect_done(a, item, pass);
    }
    auto file = item_dir(m_factory, item) / fmt::format("attempt-{}.md", a.attempt);
    auto request = work_request(item, a, file);
    a.job = spawn([steps = setup.inspectors, request] { return run_inspectors(steps, request); });
    return {};
  }

  // Inspectors run in the item's workspace and may leave files there (build output). They must not
  // end up in the item's change (the next jj command there would snapshot them): put the workspace
  // back to the commit that was inspected.
  Status restore_after_inspection(Active& a) {
    if (a.workspace.empty() || a.inspected.empty() || m_setups.at(a.line).inspectors.empty()) return {};
    return repo_for(a.line, {a.item}, "inspected (drop what the inspectors wrote)").restore_workspace(a.workspace, a.inspected);
  }

  Status inspect_done(Active& a, const Item& item, const JobResult& result) {
    if (!result.log.empty()) write_attempt_log(m_factory, item, a.attempt, "inspect", result.log);
    if (m_stopping) return {};
    FAB_TRY(restore_after_inspection(a));
    if (!result.ok) return fail_attempt(a, ItemState::inspecting, result.feedback);
    FAB_TRY(move(a, ItemState::inspecting, ItemState::refining, "inspections passed"));
    a.phase = Phase::await_merge;
    m_merge_queue.push_back(a.item);
    return {};
  }

  Status reinspect_done(Active& a, const Item& item, const JobResult& result) {
    if (!result.log.empty()) write_attempt_log(m_factory, item, a.attempt, "inspect", result.log);
    m_merging.clear();
    if (m_stopping) return {};
    FAB_TRY(restore_after_inspection(a));
    if (!result.ok) return fail_attempt(a, ItemState::refining, "after rebasing onto trunk, " + result.feedback);
    return merge(a);
  }

  // --- 2. merging ----------------------------------------------------------------------------------

  // The files the change adds conflict markers to (none: empty).
  Result<std::vector<MarkedFile>> markers_in(const ChangeId& change) const {
    FAB_TRY_ASSIGN(auto diffs, m_factory.repo().git_diffs({change}));
    auto it = diffs.find(change.str());
    if (it == diffs.end()) return fail_internal(fmt::format("jj shows no diff for change {}", change.short_id()));
    return added_conflict_markers(m_factory.repo(), change.str(), it->second);
  }

  // Moves trunk to the item's change (after checking it adds no conflict markers, unless its current
  // commit `commit_id` is the one already checked).
  Status merge(Active& a, const std::string& commit_id = {}) {
    const auto& trunk = m_setups.at(a.line).blueprint.trunk;
    if (commit_id.empty() || commit_id != a.checked_commit) {
      FAB_TRY_ASSIGN(auto marked, markers_in(a.change));
      if (!marked.empty()) {
        return fail_attempt(a, ItemState::refining,
                            "after rebasing onto " + trunk + ", " + conflict_marker_feedback(marked, a.resolved_by));
      }
    }
    FAB_TRY(repo_for(a.line, {a.item}, "refining -> merged").set_bookmark(trunk, a.change.str()));
    ++m_trunk_moves[trunk];
    FAB_TRY(move(a, ItemState::refining, ItemState::merged, fmt::format("{} moved to its change", trunk)));
    ++m_report.merged;
    release_workspace(a);
    m_active.erase(a.item);
    return {};
  }

  // Items that passed inspection are merged in batches, one batch per trunk. An item of a line with
  // inspectors goes alone (merge_one): if trunk moved since it was inspected, the rebased result is
  // inspected again before it lands. Items of a line without inspectors are chained: each rebased
  // onto the one before it (the first onto trunk), one `jj rebase` each; then one read of the
  // chain (parents, conflicts, diffs); then one trunk move for the clean run at its start. The
  // first item that conflicts ends the run and is taken alone (refinery, then its own trunk move);
  // one that adds conflict markers goes back to its agent. The items after it wait for the next
  // batch (this same tick).
  Status merge_ready() {
    while (m_merging.empty() && !m_merge_queue.empty()) {
      const auto trunk = m_setups.at(m_active.at(m_merge_queue.front()).line).blueprint.trunk;
      std::vector<std::string> batch;
      std::deque<std::string> rest;
      for (const auto& id : m_merge_queue) {
        if (m_setups.at(m_active.at(id).line).blueprint.trunk == trunk) {
          batch.push_back(id);
        } else {
          rest.push_back(id);
        }
      }
      m_merge_queue = std::move(rest);
      FAB_TRY(merge_batch(trunk, batch));
    }
    return {};
  }

  // Puts `ids` back at the front of the merge queue, in order.
  void requeue(std::vector<std::string>::const_iterator begin, std::vector<std::string>::const_iterator end) {
    for (auto it = end; it != begin;) m_merge_queue.push_front(*--it);
  }

  Status merge_batch(const std::string& trunk, const std::vector<std::string>& batch) {
    Active& front = m_active.at(batch.front());
    if (!m_setups.at(front.line).inspectors.empty()) {
      requeue(batch.begin() + 1, batch.end());
      return merge_one(front);
    }
    // The chain: the run of items of the front item's line (one line per chain, so one cause names
    // them all); the rest wait for the next batch.
    std::size_t n = 0;
    while (n < batch.size() && m_active.at(batch[n]).line == front.line) ++n;
    std::vector<std::string> chain(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
    requeue(batch.begin() + static_cast<std::ptrdiff_t>(n), batch.end());

    std::vector<ChangeId> ids;
    std::string onto = trunk;
    std::string onto_name = trunk;
    for (const auto& id : chain) {
      Active& a = m_active.at(id);
      // An item that started on trunk's head, with trunk unmoved since, is already in place (the
      // read below checks it); otherwise one rebase (jj leaves a change already there alone).
      const bool in_place = ids.empty() && a.trunk_moves_at_start == m_trunk_moves[trunk];
      if (!in_place) {
        FAB_TRY(repo_for(a.line, {a.item}, fmt::format("refining (rebase onto {})", onto_name))
                    .rebase_revisions({a.change}, onto));
        a.trunk_moves_at_start = -1;  // it sits on another item now, not on trunk's head
      }
      ids.push_back(a.change);
      onto = a.change.str();
      onto_name = a.item;
    }
    FAB_TRY_ASSIGN(auto commits, m_factory.repo().query_with_diffs(
                                     fmt::format("bookmarks(exact:{}) | {}", revset_string(trunk), revset_of(ids)),
                                     revset_of(ids)));
    std::string prev;  // the commit the next item must sit on
    std::map<std::string, const Commit*> by_change;
    for (const auto& c : commits) {
      if (std::find(c.bookmarks.begin(), c.bookmarks.end(), trunk) != c.bookmarks.end()) prev = c.commit_id;
      by_change[c.change_id.str()] = &c;
    }
    if (prev.empty()) return fail(fmt::format("the trunk bookmark '{}' does not exist", trunk));
    // The clean run: each item on the one before, no conflict, no conflict markers added.
    std::size_t clean = 0;
    std::vector<MarkedFile> marked;
    for (; clean < chain.size(); ++clean) {
      auto it = by_change.find(ids[clean].str());
      if (it == by_change.end()) return fail_internal(fmt::format("change {} is not in the repo", ids[clean].short_id()));
      const Commit& c = *it->second;
      if (c.parents != std::vector<std::string>{prev} || c.conflict) break;
      FAB_TRY_ASSIGN(marked, added_conflict_markers(m_factory.repo(), c.commit_id, c.diff.value_or("")));
      if (!marked.empty()) break;
      prev = c.commit_id;
    }
    if (clean > 0) {
      std::vector<std::string> landed(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(clean));
      const Active& last = m_active.at(landed.back());
      FAB_TRY(repo_for(last.line, landed, "refining -> merged").set_bookmark(trunk, last.change.str()));
      ++m_trunk_moves[trunk];
      for (const auto& id : landed) {
        Active& a = m_active.at(id);
        FAB_TRY(move(a, ItemState::refining, ItemState::merged,
                     landed.size() == 1 ? fmt::format("{} moved to its change", trunk)
                                        : fmt::format("{} moved to {} ({} items at once)", trunk, last.item, landed.size())));
        ++m_report.merged;
        release_workspace(a);
        m_active.erase(id);
      }
    }
    if (clean == chain.size()) return {};
    // The item that ended the run: markers go back to its agent; a conflict (or a change jj did not
    // put where asked) is taken alone. The items after it sit on it for now: they are chained again
    // in the next batch.
    requeue(chain.begin() + static_cast<std::ptrdiff_t>(clean) + 1, chain.end());
    Active& a = m_active.at(chain[clean]);
    if (!marked.empty()) {
      return fail_attempt(a, ItemState::refining, "after rebasing onto " + trunk + ", " + conflict_marker_feedback(marked));
    }
    return merge_one(a);
  }

  // One item, alone: onto trunk's head, conflicts to the refinery, re-inspection when the tree
  // changed, then its own trunk move.
  Status merge_one(Active& a) {
    const auto& setup = m_setups.at(a.line);
    const auto& trunk = setup.blueprint.trunk;
    FAB_TRY_ASSIGN(auto head, m_factory.repo().bookmark(trunk));
    FAB_TRY_ASSIGN(auto commit, m_factory.repo().commit(a.change));
    const bool in_place = head && commit.parents == std::vector<std::string>{head->commit_id};
    if (in_place && !commit.conflict) return merge(a, commit.commit_id);  // what was inspected is what lands
    bool conflicted = commit.conflict;
    if (!in_place) {
      FAB_TRY_ASSIGN(auto c, repo_for(a.line, {a.item}, "refining (rebase onto " + trunk + ")").rebase({a.change}, trunk));
      conflicted = !c.empty();
    }
    if (conflicted) {
      FAB_TRY_ASSIGN(auto left, refine_conflicts(a, setup));
      if (!left.empty()) {
        std::string list;
        for (const auto& p : left) list += "  " + p + "\n";
        return fail_attempt(a, ItemState::refining,
                            "your change conflicts with trunk and no resolver could settle it. Your working copy "
                            "is your change rebased onto trunk; these files hold jj's conflict markers, resolve "
                            "them (keep both sides' intent):\n" + list);
      }
    }
    if (setup.inspectors.empty()) return merge(a);
    // The rebase changed what the inspectors saw: inspect the result before it lands.
    FAB_TRY(repo_for(a.line, {a.item}, "refining (update workspace)").update_stale_workspace(a.workspace));
    FAB_TRY_ASSIGN(auto rebased, m_factory.repo().commit(a.change));
    a.inspected = rebased.commit_id;
    FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
    m_merging = a.item;
    return start_inspection(a, item, Phase::reinspect);
  }

  // Runs the refinery plugins on each conflicted file; returns the paths still conflicted.
  Result<std::vector<std::string>> refine_conflicts(Active& a, const LineSetup& setup) {
    FAB_TRY_ASSIGN(auto paths, m_factory.repo().conflicted_paths(a.change));
    FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
    std::vector<std::string> left;
    std::string log;
    for (const auto& path : paths) {
      auto sides = m_factory.repo().conflict_sides(a.change, path);
      if (!sides) {
        log += fmt::format("{}: {}\n", path, sides.error().render());
        left.push_back(path);
        continue;
      }
      std::optional<std::string> content;
      bool resolved = false;
      std::string settled_by;
      for (const auto& step : setup.refiners) {
        nlohmann::json request{{"path", path},          {"base", sides->base}, {"ours", sides->ours},
                               {"theirs", sides->theirs}, {"with", step.use.with}};
        if (content) request["content"] = *content;
        auto r = plugins::call_plugin(step.ref, request, timeout_of(step.use));
        if (!r) {
          log += fmt::format("{}: refinery {} gave no answer: {}\n", path, step.use.plugin, r.error().render());
          continue;
        }
        log += fmt::format("{}: refinery {}: {}\n", path, step.use.plugin, r->response.value("message", std::string{}));
        if (!r->ok) continue;
        content = r->response.value("content", std::string{});
        // A resolver is trusted no more than an agent: an answer that still has markers is no answer.
        if (auto left = resolve::added_marker_lines(*content, {sides->ours, sides->theirs});
            r->response.value("resolved", false) && !left.empty()) {
          log += fmt::format("{}: refinery {} said it settled the file, but its answer has conflict markers (line {}); "
                             "not taken\n", path, step.use.plugin, left.front().index + 1);
          content.reset();
          continue;
        }
        if (r->response.value("resolved", false)) {
          resolved = true;
          settled_by = step.use.plugin;
          break;
        }
      }
      if (resolved) {
        FAB_TRY(repo_for(a.line, {a.item}, "refining (resolve " + path + " by " + settled_by + ")")
                    .write_resolution(a.change, path, *content));
        a.resolved_by[path] = settled_by;
        say(fmt::format("{} refining: settled the conflict in {} ({})", a.item, path, settled_by));
        JournalRecord note;
        note.kind = "resolved";
        note.fields = {{"item", a.item}, {"path", path}, {"resolver", settled_by}};
        FAB_TRY(m_factory.store().append_journal(a.line, note));
      } else {
        left.push_back(path);
      }
    }
    write_attempt_log(m_factory, item, a.attempt, "refine", log);
    return left;
  }

  // --- 3. starting ---------------------------------------------------------------------------------

  Status start_ready() {
    FAB_TRY_ASSIGN(auto all, lines());
    m_report.blocked.clear();
    for (const auto& line : all) {
      FAB_TRY_ASSIGN(auto record, m_factory.store().load_line(line.id));
      FAB_TRY(drop_orphaned(record));
      bool open = false;
      for (const auto& i : record.items) open = open || (i.state != ItemState::merged && i.state != ItemState::dropped);
      if (!open) continue;
      FAB_TRY_ASSIGN(auto setup, setup_for(line));
      // Slots count items building (their agent running): without --slots, each line's blueprint
      // says how many of its items; with it, that many over the whole run.
      int building = 0;
      for (const auto& [id, a] : m_active) {
        if (a.phase == Phase::agent && (m_options.slots || a.line == line.id)) ++building;
      }
      const int limit = m_options.slots.value_or(setup->blueprint.slots);
      std::vector<Item> ready;
      for (const auto& item : record.items) {
        if (building + static_cast<int>(ready.size()) >= limit) break;
        if (item.state != ItemState::queued && item.state != ItemState::rework) continue;
        if (m_active.count(item.id)) continue;
        bool deps_merged = true;
        for (const auto& dep : item.depends_on) {
          const Item* d = record.find(dep);
          if (d && d->state == ItemState::dropped) m_report.blocked.push_back(item.id);
          deps_merged = deps_merged && d && d->state == ItemState::merged;
        }
        if (deps_merged && !item.change_id.empty()) ready.push_back(item);
      }
      if (!ready.empty()) FAB_TRY(start_items(*setup, line.id, ready));
    }
    return {};
  }

  // Queued items behind a dropped dependency can never start: they are dropped too (in `record`
  // as well, so an item behind them goes in the same pass).
  Status drop_orphaned(LineRecord& record) {
    for (bool again = true; again;) {
      again = false;
      for (auto& item : record.items) {
        if (item.state != ItemState::queued || m_active.count(item.id)) continue;
        for (const auto& dep : item.depends_on) {
          const Item* d = record.find(dep);
          if (!d || d->state != ItemState::dropped) continue;
          auto reason = fmt::format("dependency {} ({}) was dropped", d->id, d->title);
          FAB_TRY_ASSIGN(auto op, m_factory.repo().current_operation());
          FAB_TRY(m_factory.store().transition(item.id, ItemState::dropped, reason,
                                               {{"op", op}, {"attempts", item.attempts}},
                                               [&](Item& i) { i.drop_reason = reason; }));
          say(fmt::format("{} queued -> dropped: {}", item.id, reason));
          item.state = ItemState::dropped;
          item.drop_reason = reason;
          ++m_report.dropped;
          again = true;
          break;
        }
      }
    }
    return {};
  }

  Status start_items(const LineSetup& setup, const std::string& line, const std::vector<Item>& items) {
    const auto& trunk = setup.blueprint.trunk;
    // One rebase onto trunk's head for the items starting now (one per state they start from, so
    // each operation's cause is exact); jj leaves those already there alone. (Conflicts are not
    // looked at here: the agent's working copy shows them, and they are checked before merging.)
    // An item sitting on another item's change (a merge chain cut short by a crash) was put back
    // on trunk by recovery, so no edge between these changes is carried along.
    std::map<ItemState, std::pair<std::vector<ChangeId>, std::vector<std::string>>> groups;
    for (const auto& i : items) {
      FAB_TRY_ASSIGN(auto change, ChangeId::parse(i.change_id));
      groups[i.state].first.push_back(change);
      groups[i.state].second.push_back(i.id);
    }
    for (const auto& [from, group] : groups) {
      FAB_TRY(repo_for(line, group.second, fmt::format("{} -> building (rebase onto {})", to_string(from), trunk))
                  .rebase_revisions(group.first, trunk));
    }
    for (const auto& item : items) {
      FAB_TRY_ASSIGN(auto change, ChangeId::parse(item.change_id));
      const std::string what = fmt::format("{} -> building", to_string(item.state));
      FAB_TRY_ASSIGN(auto dir, acquire_workspace(line, item.id, change, what));
      Active a{line, item.id, change, item.attempts + 1, Phase::agent, dir, nullptr};
      a.trunk_moves_at_start = m_trunk_moves[trunk];
      const auto feedback = item.extra.value("feedback", std::string{});
      FAB_TRY_ASSIGN(auto file, write_item_file(m_factory, item, a.attempt, feedback));
      FAB_TRY_ASSIGN(auto moved, move(a, item.state, ItemState::building, fmt::format("attempt {}", a.attempt),
                                      {{"attempt", a.attempt}}, [](Item& i) { ++i.attempts; }));
      auto request = work_request(moved, a, file);
      request["with"] = setup.agent.use.with;
      request["timeout_s"] = setup.agent.use.timeout_s;
      a.job = spawn([agent = setup.agent, request] { return run_agent(agent, request); });
      m_active.emplace(item.id, std::move(a));
    }
    return {};
  }

  // --- stopping ------------------------------------------------------------------------------------

  // Every item still in flight goes back to the queue (its attempt not counted) and every workspace
  // is released.
  Status park_all() {
    while (!m_active.empty()) {
      Active& a = m_active.begin()->second;
      a.job.reset();
      if (a.phase == Phase::snapshot_pending && !a.workspace.empty()) {
        FAB_TRY(repo_for(a.line, {a.item}, "building (snapshot)").snapshot_workspace(a.workspace));
      }
      FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
      if (item.state == ItemState::building || item.state == ItemState::inspecting ||
          item.state == ItemState::refining) {
        FAB_TRY(move(a, item.state, ItemState::queued,
                     fmt::format("stopped while {} (attempt {} not counted)", to_string(item.state), item.attempts),
                     {}, [](Item& i) {
                       if (i.attempts > 0) --i.attempts;
                     }));
      }
      release_workspace(a);
      m_active.erase(m_active.begin());
    }
    m_merge_queue.clear();
    m_pending.clear();
    return {};
  }

  Factory& m_factory;
  const RunOptions& m_options;
  RunReport m_report;
  std::map<std::string, LineSetup> m_setups;
  std::map<std::string, Active> m_active;  // by item id
  std::vector<PoolWorkspace> m_pool;
  std::deque<std::string> m_merge_queue;   // items in refining, waiting for their turn
  std::vector<std::string> m_pending;      // items in Phase::snapshot_pending, in the order they finished
  std::map<std::string, int> m_trunk_moves;  // by trunk bookmark: how often this run moved it
  std::string m_merging;                   // the item whose re-inspection holds the merge turn
  bool m_stopping = false;
  bool m_killed = false;
  Clock::time_point m_stop_time;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  int m_finished = 0;
};

}  // namespace

Result<RunReport> run_floor(Factory& factory, const RunOptions& options) {
  Floor floor(factory, options);
  return floor.run();
}

}  // namespace fab::engine
