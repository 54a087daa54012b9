#include "engine/floor.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
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

enum class Phase { agent, inspect, await_merge, reinspect };

struct Active {
  std::string line;
  std::string item;
  ChangeId change;
  int attempt = 0;
  Phase phase = Phase::agent;
  fs::path workspace;
  std::unique_ptr<Job> job;
};

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }
std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
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
        FAB_TRY(merge_ready());
        FAB_TRY(start_ready());
        if (m_options.until_idle && m_active.empty()) return {};
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
      auto ref = plugins::find_plugin(use.plugin, kind, m_options.host);
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
    extra["op"] = trim(op);
    FAB_TRY_ASSIGN(auto before, m_factory.store().find_item(a.item));
    Item probe = before;
    if (mutate) mutate(probe);
    extra["attempts"] = probe.attempts;
    FAB_TRY_ASSIGN(auto item, m_factory.store().transition(a.item, to, reason, extra, mutate));
    say(fmt::format("{} {} -> {} (attempt {}){}", a.item, to_string(from), to_string(to), item.attempts,
                    reason.empty() ? "" : ": " + first_line(reason)));
    return item;
  }

  Status release_workspace(const Active& a, const std::string& why) {
    return repo_for(a.line, {a.item}, why + " (forget workspace)")
        .forget_workspace(workspace_name(a.item), a.workspace);
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
                                first_line(feedback));
      FAB_TRY(move(a, from, ItemState::dropped, reason, {{"feedback", feedback}},
                   [&](Item& i) { i.drop_reason = reason; i.extra["feedback"] = feedback; }));
      ++m_report.dropped;
    } else {
      FAB_TRY(move(a, from, ItemState::rework, first_line(feedback), {{"feedback", feedback}},
                   [&](Item& i) { i.extra["feedback"] = feedback; }));
      ++m_report.reworked;
    }
    FAB_TRY(release_workspace(a, std::string(to_string(from)) + " -> " + (item.attempts >= bp.rework_limit ? "dropped" : "rework")));
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
        case Phase::agent: FAB_TRY(agent_done(a, item, result)); break;
        case Phase::inspect: FAB_TRY(inspect_done(a, item, result)); break;
        case Phase::reinspect: FAB_TRY(reinspect_done(a, item, result)); break;
        case Phase::await_merge: break;
      }
    }
    return {};
  }

  Status agent_done(Active& a, const Item& item, const JobResult& result) {
    write_attempt_log(m_factory, item, a.attempt, "agent", result.log);
    // Whatever the agent wrote is kept in the item's change, even when it failed or we stop.
    FAB_TRY_ASSIGN(auto snap, repo_for(a.line, {a.item}, "building (snapshot)").snapshot_workspace(a.workspace));
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
    FAB_TRY_ASSIGN(auto marked, markers_in(a.change));
    if (!marked.empty()) return fail_attempt(a, ItemState::building, conflict_marker_feedback(marked));
    FAB_TRY(move(a, ItemState::building, ItemState::inspecting, "agent finished"));
    return start_inspection(a, item, Phase::inspect);
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

  Status inspect_done(Active& a, const Item& item, const JobResult& result) {
    if (!result.log.empty()) write_attempt_log(m_factory, item, a.attempt, "inspect", result.log);
    if (m_stopping) return {};
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
    if (!result.ok) return fail_attempt(a, ItemState::refining, "after rebasing onto trunk, " + result.feedback);
    return merge(a);
  }

  // --- 2. merging ----------------------------------------------------------------------------------

  // The files the change adds conflict markers to (none: empty).
  Result<std::vector<MarkedFile>> markers_in(const ChangeId& change) const {
    FAB_TRY_ASSIGN(auto diffs, m_factory.repo().git_diffs({change}));
    auto it = diffs.find(change.str());
    if (it == diffs.end()) return fail_internal(fmt::format("jj shows no diff for change {}", change.short_id()));
    return added_conflict_markers(it->second);
  }

  Status merge(Active& a) {
    const auto& trunk = m_setups.at(a.line).blueprint.trunk;
    FAB_TRY_ASSIGN(auto marked, markers_in(a.change));
    if (!marked.empty()) {
      return fail_attempt(a, ItemState::refining, "after rebasing onto " + trunk + ", " + conflict_marker_feedback(marked));
    }
    FAB_TRY(repo_for(a.line, {a.item}, "refining -> merged").set_bookmark(trunk, a.change.str()));
    FAB_TRY(move(a, ItemState::refining, ItemState::merged, fmt::format("{} moved to its change", trunk)));
    ++m_report.merged;
    FAB_TRY(release_workspace(a, "merged"));
    m_active.erase(a.item);
    return {};
  }

  Status merge_ready() {
    while (m_merging.empty() && !m_merge_queue.empty()) {
      auto id = m_merge_queue.front();
      m_merge_queue.pop_front();
      Active& a = m_active.at(id);
      const auto& setup = m_setups.at(a.line);
      const auto& trunk = setup.blueprint.trunk;
      FAB_TRY_ASSIGN(auto head, m_factory.repo().bookmark(trunk));
      FAB_TRY_ASSIGN(auto commit, m_factory.repo().commit(a.change));
      if (head && commit.parents == std::vector<std::string>{head->commit_id}) {
        FAB_TRY(merge(a));  // already on trunk's head: what was inspected is what lands
        continue;
      }
      FAB_TRY_ASSIGN(auto conflicted,
                     repo_for(a.line, {a.item}, "refining (rebase onto " + trunk + ")").rebase({a.change}, trunk));
      if (!conflicted.empty()) {
        FAB_TRY_ASSIGN(auto left, refine_conflicts(a, setup));
        if (!left.empty()) {
          std::string list;
          for (const auto& p : left) list += "  " + p + "\n";
          FAB_TRY(fail_attempt(a, ItemState::refining,
                               "your change conflicts with trunk and no resolver could settle it. Your working copy "
                               "is your change rebased onto trunk; these files hold jj's conflict markers, resolve "
                               "them (keep both sides' intent):\n" + list));
          continue;
        }
      }
      if (setup.inspectors.empty()) {
        FAB_TRY(merge(a));
        continue;
      }
      // The rebase changed what the inspectors saw: inspect the result before it lands.
      FAB_TRY(repo_for(a.line, {a.item}, "refining (update workspace)").update_stale_workspace(a.workspace));
      FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(id));
      m_merging = id;
      FAB_TRY(start_inspection(a, item, Phase::reinspect));
    }
    return {};
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
        if (r->response.value("resolved", false)) {
          resolved = true;
          break;
        }
      }
      if (resolved) {
        FAB_TRY(repo_for(a.line, {a.item}, "refining (resolve " + path + ")").write_resolution(a.change, path, *content));
        say(fmt::format("{} refining: settled the conflict in {}", a.item, path));
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
      const int limit = m_options.slots.value_or(setup->blueprint.slots);
      int running = 0;
      for (const auto& [id, a] : m_active) running += a.line == line.id ? 1 : 0;
      std::vector<Item> ready;
      for (const auto& item : record.items) {
        if (running + static_cast<int>(ready.size()) >= limit) break;
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
                                               {{"op", trim(op)}, {"attempts", item.attempts}},
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
    FAB_TRY_ASSIGN(auto head, m_factory.repo().bookmark(trunk));
    std::string set;
    for (const auto& i : items) set += (set.empty() ? "" : "|") + i.change_id;
    FAB_TRY_ASSIGN(auto commits, m_factory.repo().query(set));
    // One rebase for every item not already on trunk's head (grouped by the state it starts from).
    std::map<ItemState, std::pair<std::vector<ChangeId>, std::vector<std::string>>> to_rebase;
    for (const auto& c : commits) {
      if (head && c.parents == std::vector<std::string>{head->commit_id}) continue;
      for (const auto& i : items) {
        if (i.change_id == c.change_id.str()) {
          to_rebase[i.state].first.push_back(c.change_id);
          to_rebase[i.state].second.push_back(i.id);
        }
      }
    }
    for (const auto& [from, group] : to_rebase) {
      FAB_TRY(repo_for(line, group.second, fmt::format("{} -> building (rebase onto {})", to_string(from), trunk))
                  .rebase(group.first, trunk));
    }
    for (const auto& item : items) {
      FAB_TRY_ASSIGN(auto change, ChangeId::parse(item.change_id));
      Active a{line, item.id, change, item.attempts + 1, Phase::agent, workspace_dir(m_factory, item.id), nullptr};
      const std::string what = fmt::format("{} -> building", to_string(item.state));
      std::error_code ec;
      if (fs::exists(a.workspace, ec)) fs::remove_all(a.workspace, ec);
      FAB_TRY(repo_for(line, {item.id}, what + " (add workspace)").add_workspace(workspace_name(item.id), a.workspace, change));
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
      FAB_TRY_ASSIGN(auto item, m_factory.store().find_item(a.item));
      if (item.state == ItemState::building || item.state == ItemState::inspecting ||
          item.state == ItemState::refining) {
        FAB_TRY(move(a, item.state, ItemState::queued,
                     fmt::format("stopped while {} (attempt {} not counted)", to_string(item.state), item.attempts),
                     {}, [](Item& i) {
                       if (i.attempts > 0) --i.attempts;
                     }));
      }
      FAB_TRY(release_workspace(a, std::string(to_string(item.state)) + " -> queued"));
      m_active.erase(m_active.begin());
    }
    m_merge_queue.clear();
    return {};
  }

  Factory& m_factory;
  const RunOptions& m_options;
  RunReport m_report;
  std::map<std::string, LineSetup> m_setups;
  std::map<std::string, Active> m_active;  // by item id
  std::deque<std::string> m_merge_queue;   // items in refining, waiting for their turn
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
