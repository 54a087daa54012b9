#include "engine/executor.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "engine/jobs.h"

#include "blueprints/stamp.h"
#include "engine/agent_work.h"
#include "engine/cause.h"
#include "engine/conflict_markers.h"
#include "engine/gc.h"
#include "engine/item_files.h"
#include "engine/line_blueprint.h"
#include "engine/orphans.h"
#include "engine/plugin_call_options.h"
#include "substrate/process.h"
#include "workgraph/durable_file.h"

namespace fab::engine {

namespace {

// What a crash of fab itself (not a kill) appends to .factory/crash-guard: a fatal signal's
// handler writes it (open/write are async-signal-safe) and lets the signal take its course.
constexpr const char* kCrashedMark = "crashed";
char g_crash_guard[4096];

extern "C" void mark_crash(int sig) {
  if (g_crash_guard[0] != 0) {
    int fd = ::open(g_crash_guard, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
      static const char text[] = "crashed\n";
      (void)!::write(fd, text, sizeof text - 1);
      ::close(fd);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_marker(const std::filesystem::path& guard) {
  static bool installed = false;
  if (installed) return;
  installed = true;
  const auto p = guard.string();
  if (p.size() >= sizeof g_crash_guard) return;
  std::memcpy(g_crash_guard, p.c_str(), p.size() + 1);
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = mark_crash;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    ::sigaction(sig, &sa, nullptr);
  }
}

namespace fs = std::filesystem;
using plugins::PluginKind;

std::string joined_lines(const std::vector<std::string>& lines, const std::string& indent = "  ") {
  std::string out;
  for (const auto& l : lines) out += indent + l + "\n";
  return out;
}

bool is_trunk_missing(const Error& e) { return e.message.find("does not exist") != std::string::npos; }

// What jj refused to record, and how to keep it next time.
std::string refused_feedback(const std::vector<RefusedFile>& files, std::uint64_t limit) {
  std::string out = "jj did not record these files the agent wrote, so they cannot land:\n";
  bool size = false;
  for (const auto& f : files) {
    out += fmt::format("  {}: {}\n", f.path, f.why);
    size = size || f.why.find("bytes") != std::string::npos;
  }
  if (size) {
    out += fmt::format("A file bigger than {} bytes needs `max_file_size:` (top level of the blueprint) raised; or "
                       "leave such files out of the change (list them in .gitignore).\n",
                       limit);
  }
  return out;
}

// Symlinks the change adds that point out of the repository (absolute, or climbing out with ..).
std::vector<std::string> outward_symlinks(const std::string& diff) {
  std::vector<std::string> out;
  std::string path;
  bool symlink = false;
  std::istringstream in(diff);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("diff --git a/", 0) == 0) {
      const auto b = line.find(" b/");
      path = b == std::string::npos ? std::string{} : line.substr(b + 3);
      symlink = false;
    } else if (line.rfind("new file mode 120000", 0) == 0) {
      symlink = true;
    } else if (symlink && line.rfind("+", 0) == 0 && line.rfind("+++", 0) != 0) {
      const auto target = line.substr(1);
      int depth = static_cast<int>(std::count(path.begin(), path.end(), '/'));
      int up = 0;
      for (std::size_t at = 0; target.compare(at, 3, "../") == 0; at += 3) ++up;
      if (!target.empty() && (target[0] == '/' || up > depth)) out.push_back(path + " -> " + target);
      symlink = false;
    }
  }
  return out;
}

}  // namespace

Executor::Executor(Factory& factory, const RunOptions& options)
    : m_factory(factory), m_options(options), m_host(options.host), m_trunks(factory, m_ledger), m_pool(factory) {
  // Agents can write in their workspaces (and, without a sandbox, anywhere): no plugin is loaded
  // from there, nor from fab's own state or .factory/.
  m_host.untrusted_dirs.push_back(factory.state_dir());
  m_host.untrusted_dirs.push_back(factory.factory_dir());
  // git's trunk branch moved by a call's git (what its worktree's reference-transaction hook
  // recorded, or is about to: the ".pending" lines are written before the ref moves).
  m_trunks.set_git_mover([this](const std::string& ref, const std::string& value) -> std::optional<std::string> {
    for (const auto& [id, f] : m_flights) {
      if (f.job && m_factory.repo().git_ref_log_moved(f.git_admin, ref, value)) return id;
    }
    return std::nullopt;
  });
}

Executor::~Executor() {
  kill_calls();
  m_flights.clear();  // joins every job
}

// --- small helpers ------------------------------------------------------------------------------

void Executor::moved(const std::string& line, const std::string& item, ItemState from, ItemState to, int attempts,
                     const std::string& reason) const {
  const std::string why = reason == fmt::format("attempt {}", attempts) ? "" : first_line(reason);
  if (m_options.progress) {
    m_options.progress(fmt::format("fab: {} {} -> {} (attempt {}){}", item, to_string(from), to_string(to), attempts,
                                   why.empty() ? "" : ": " + why));
  }
  if (m_options.events) m_options.events({RunEvent::Kind::transition, line, item, from, to, attempts, why});
}

void Executor::note(const std::string& text, const std::string& line, const std::string& item) const {
  const std::string shown = item.empty() ? text : item + ": " + text;
  if (m_options.progress) m_options.progress("fab: " + shown);
  if (m_options.events) m_options.events({RunEvent::Kind::note, line, item, {}, {}, 0, shown});
}

Repo Executor::repo_for(const Flight& f, const std::string& what) const {
  return m_factory.repo().with_cause(format_cause(f.line, {f.item}, what));
}

Status Executor::own(const std::function<Status()>& mutate) { return as_own(m_ledger, m_factory.repo(), mutate); }

Status Executor::put_back_git_refs(Flight& f, const std::string& phase) {
  // Once per call: the slot (and its worktree) may serve another item's call next.
  const auto admin = std::exchange(f.git_admin, fs::path{});
  if (admin.empty()) return {};
  FAB_TRY_ASSIGN(auto refs, m_factory.repo().restore_git_refs_of(admin));
  if (refs.empty()) return {};
  f.abnormal = true;
  f.undone.insert(f.undone.end(), refs.begin(), refs.end());
  return own([&] { return repo_for(f, phase + " (put back git's refs)").git_import_keeping_commits(); });
}

template <class T>
Result<T> Executor::own_r(const std::function<Result<T>()>& mutate) {
  return as_own(m_ledger, m_factory.repo(), mutate);
}

Result<OperationChanges> Executor::changes_of(const std::string& op) {
  if (auto it = m_changes.find(op); it != m_changes.end()) return it->second;
  FAB_TRY_ASSIGN(auto ch, m_factory.repo().operation_changes(op));
  return m_changes.emplace(op, std::move(ch)).first->second;
}

void Executor::note_pool_op(const std::string& since, const std::string& workspace) {
  std::ofstream out(m_factory.factory_dir() / "pool-ops", std::ios::app);
  if (!since.empty()) {
    // Several operations (adding a workspace makes two, one of them in the new workspace), and
    // only those of that workspace: an agent working in another one may have made some meanwhile.
    auto ops = m_factory.repo().operations_since(since);
    if (ops) {
      for (const auto& op : *ops) {
        if (op.workspace == workspace) out << op.id.substr(0, 32) << "\n";
      }
      return;
    }
  }
  for (const auto& op : m_ledger.take_own()) out << op.substr(0, 32) << "\n";
}

void Executor::watch_checkout() {
  if (!m_watch) return;
  const auto changed = m_watch->changed();
  if (changed.empty()) return;
  bool someone = false;
  for (auto& [id, f] : m_flights) {
    if (f.stage == Stage::agent_running || f.stage == Stage::agent_finished || f.stage == Stage::inspect_running ||
        f.stage == Stage::inspect_finished || f.stage == Stage::reinspect_running) {
      f.touched.insert(changed.begin(), changed.end());
      someone = true;
    }
  }
  (void)someone;
}

Status Executor::adopt_workspace(Flight& f) {
  Slot* old = f.slot;
  const fs::path files = old->dir;
  // (The old workspace's name is gone from jj already; its directory is kept until the copy.)
  Repo repo = repo_for(f, "building (re-create the workspace its call forgot)");
  old->busy = true;
  // The files left there are edits over the commit the old working copy last checked out (jj
  // keeps the operation it was updated at, and that operation's view names the commit). The copy
  // is exact only on that commit's parent: if the change was moved to another parent meanwhile
  // (rebased from elsewhere), a copy onto the new parent would put the old parent's version back
  // in every file the agent never touched and record what the new parent added as deleted. So the
  // change goes back onto the old parent for the copy, and its snapshot is rebased onto the new
  // parent, which carries over exactly the agent's edits (a conflict there is the refinery's).
  const Repo& reader = m_factory.repo();
  auto cannot = [&](const std::string& why) {
    return fail(Error(fmt::format("its workspace was forgotten or went stale, and fab cannot tell which commit the "
                                  "files left there were written on, so it cannot tell the agent's edits from that "
                                  "commit's files; nothing of this attempt was recorded"))
                    .caused_by(why)
                    .with_hint("keep agents' jj commands to their own workspace; the next attempt starts from the "
                               "change as it is now"));
  };
  auto wc_op = reader.working_copy_operation(old->dir);
  if (!wc_op) return cannot(wc_op.error().render());
  auto then = reader.query(fmt::format("present({}@)", revset_string(old->name)), *wc_op);
  if (!then || then->size() != 1) return cannot(then ? "no working-copy commit at its last operation" : then.error().render());
  auto now = reader.query(fmt::format("present(change_id({}))", f.change.str()));
  if (!now || now->size() != 1) return cannot(now ? "its change is gone or divergent" : now.error().render());
  const Commit was = then->front(), is = now->front();
  // (On another change, one the agent started there, the copy makes the item's change hold what
  // that one did, and the fold then squashes that one into it.)
  const bool moved = was.change_id == f.change && was.parents != is.parents;
  if (moved && (was.parents.size() != 1 || is.parents.size() != 1)) return cannot("its change is a merge");
  if (moved) FAB_TRY(own([&] { return repo.rebase_revision(f.change.str(), was.parents.front()); }));
  const auto before = m_factory.repo().current_operation();
  FAB_TRY_ASSIGN(auto fresh, own_r<Slot*>([&] { return m_pool.acquire(repo, f.change); }));
  note_pool_op(before ? *before : std::string{}, fresh->name);
  std::error_code ec;
  for (fs::directory_iterator it(fresh->dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name != ".jj" && name != ".git") fs::remove_all(it->path(), ec);
  }
  for (fs::directory_iterator it(files, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name == ".jj" || name == ".git") continue;
    std::error_code copy_ec;
    fs::copy(it->path(), fresh->dir / name,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks | fs::copy_options::overwrite_existing, copy_ec);
    if (copy_ec) {
      (void)m_pool.recycle(repo, fresh);  // (the flight's own slot is still the old one: the caller's to recycle)
      return fail(fmt::format("cannot copy '{}' into the new workspace: {}", it->path().string(), copy_ec.message()));
    }
  }
  if (moved) {
    // The edits onto where the change is now. (A failure here leaves the change on the old parent
    // holding the edits; the attempt fails saying why.)
    auto onto_new_parent = [&]() -> Status {
      FAB_TRY(own_r<Commit>([&] { return repo.snapshot_workspace(fresh->dir); }));
      FAB_TRY(own([&] { return repo.rebase_revision(f.change.str(), is.parents.front()); }));
      return own([&] { return repo.update_stale_workspace(fresh->dir); });
    };
    if (auto done = onto_new_parent(); !done) {
      (void)m_pool.recycle(repo, fresh);
      return done;
    }
    f.undone.push_back("put its edits back onto " + short_hex(is.parents.front()) +
                       ", where its change had been moved while it worked (they were written on " +
                       short_hex(was.parents.front()) + ")");
  }
  (void)m_pool.recycle(repo, old);
  f.slot = fresh;
  f.undone.push_back("re-created its workspace (the call had forgotten it, or made it stale) with the files it left there");
  return {};
}

std::vector<ForeignOp> Executor::ops_of(const std::string& item) const {
  std::vector<ForeignOp> out;
  for (const auto& f : m_foreign) {
    if (f.item == item && !m_reverted.count(f.op.id)) out.push_back(f);
  }
  return out;
}

Result<Item> Executor::find(const std::string& item) const {
  for (const auto& [id, rec] : m_records) {
    if (const Item* i = rec.find(item)) return *i;
  }
  return m_factory.store().find_item(item);
}

const std::string& Executor::trunk_of(const std::string& line) const {
  static const std::string none;
  auto it = m_setups.find(line);
  if (it != m_setups.end()) return it->second.blueprint.trunk;
  auto rec = m_records.find(line);
  return rec != m_records.end() ? rec->second.line.trunk : none;
}

Result<Item> Executor::store_transition(const std::string& item, ItemState to, const std::string& reason,
                                        nlohmann::json extra, const ItemMutator& mutate, TransitionKind kind) {
  FAB_TRY_ASSIGN(auto op, m_factory.repo().current_operation());
  extra["op"] = op;
  FAB_TRY_ASSIGN(auto before, find(item));
  Item probe = before;
  if (mutate) mutate(probe);
  extra["attempts"] = probe.attempts;
  FAB_TRY_ASSIGN(auto after, m_factory.store().transition(item, to, reason, extra, mutate, kind));
  if (auto rec = m_records.find(after.line); rec != m_records.end()) {
    if (Item* i = rec->second.find(item)) *i = after;
  }
  moved(after.line, item, before.state, to, after.attempts, reason);
  return after;
}

Result<Item> Executor::move(const Flight& f, ItemState from, ItemState to, const std::string& reason,
                            nlohmann::json extra, const ItemMutator& mutate) {
  (void)from;
  if (!f.known.empty()) extra["commit"] = f.known;
  return store_transition(f.item, to, reason, std::move(extra), mutate);
}

void Executor::fail_flight(Flight& f, const std::string& feedback, bool permanent) {
  f.stage = Stage::failed;
  f.feedback = feedback;
  f.permanent = f.permanent || permanent;
  if (!f.undone.empty()) {
    f.feedback += "\nfab undid what the call did outside its item's change:\n" + joined_lines(f.undone);
  }
  // A workspace an attempt left in a bad way goes at once (no call of it runs any more): what it
  // holds may be what broke the attempt (an agent that filled the disk), and the next records of
  // this item and of the others need that room.
  if (f.abnormal && f.slot && !(f.job && !f.job->done())) {
    if (f.job) f.job->join();
    release_slot(f);
  }
}

void Executor::record_steps(const Flight& f, const std::vector<CallStep>& steps) {
  for (const auto& s : steps) {
    JournalRecord r;
    r.kind = "step";
    r.fields = {{"item", f.item}, {"attempt", f.attempt}, {"step", s.step},   {"plugin", s.plugin},
                {"started", s.started}, {"ms", s.ms},      {"ok", s.ok},     {"summary", s.summary},
                {"log", fmt::format("items/{}/attempt-{}.{}.txt", f.item, f.attempt, s.step)}};
    if (!s.path.empty()) r.fields["path"] = s.path;
    if (!s.usage.is_null()) r.fields["usage"] = s.usage;
    if (s.permanent) r.fields["retry"] = false;
    (void)m_factory.store().append_journal(f.line, r);  // the record of a step is not worth a run
  }
}

nlohmann::json Executor::work_request(const Item& item, const Flight& f, const fs::path& item_file) const {
  return {{"line_id", item.line},
          {"item_id", item.id},
          {"title", item.title},
          {"body", item.body},
          {"change_id", f.change.str()},
          {"attempt", f.attempt},
          {"workspace", f.slot ? f.slot->dir.string() : std::string{}},
          {"item_file", item_file.string()},
          {"feedback", item.feedback}};
}

PluginStep Executor::with_paths(PluginStep step, const Flight& f) const {
  const CallPlaces places{f.slot ? f.slot->dir : fs::path{}, m_factory.root(), m_factory.workspaces_dir()};
  step.options = call_options_for(m_setups.at(f.line).blueprint, step.use, step.ref.kind, places);
  if (f.slot && (step.ref.kind == plugins::PluginKind::agent || step.ref.kind == plugins::PluginKind::inspector)) {
    // In a workspace that is a git worktree, git records the refs it changes (they are the user's
    // too): after the call they are put back (restore_git_refs_of). The GIT_CONFIG_* entries follow
    // those of fab's environment the call inherits.
    int first = 0;
    const auto& only = step.options.env.only;
    if (const char* n = std::getenv("GIT_CONFIG_COUNT");
        n != nullptr && (!only || std::find(only->begin(), only->end(), "GIT_CONFIG_COUNT") != only->end())) {
      first = std::max(0, std::atoi(n));
    }
    step.options.env.set = m_factory.repo().git_ref_log_env(f.slot->dir, first);
  }
  return step;
}

void Executor::spawn(Flight& f, std::function<void(Flight&)> work) {
  if (f.slot) m_ledger.call_started(f.slot->name, f.item);
  f.git_admin = f.slot ? m_factory.repo().worktree_git_dir(f.slot->dir) : fs::path{};
  Flight* fp = &f;
  f.job = std::make_unique<Job>([fp, work = std::move(work)] { work(*fp); },
                                [this] {
                                  std::lock_guard lock(m_mutex);
                                  ++m_finished;
                                  m_wake.notify_one();
                                });
}

Result<Slot*> Executor::workspace_for(Flight& f, const std::string& what) {
  if (f.slot) return f.slot;
  Repo repo = repo_for(f, what);
  const auto before = m_factory.repo().current_operation();
  const bool adds = !m_pool.has_idle();
  FAB_TRY_ASSIGN(auto slot, own_r<Slot*>([&] { return m_pool.acquire(repo, f.change); }));
  note_pool_op(adds && before ? *before : std::string{}, slot->name);
  f.slot = slot;
  if (!slot->commit.empty()) f.known = slot->commit;
  return slot;
}

void Executor::release_slot(Flight& f) {
  if (!f.slot) return;
  if (f.abnormal) {
    (void)own([&] { return m_pool.recycle(repo_for(f, "recycle its workspace"), f.slot); });
  } else {
    m_pool.release(f.slot);
  }
  f.slot = nullptr;
}

bool Executor::health_check() const {
  auto r = m_factory.repo().query("root()");
  if (!r) return false;
  JournalRecord probe;
  (void)probe;
  std::error_code ec;
  return fs::is_directory(m_factory.factory_dir(), ec);
}

// --- lines ---------------------------------------------------------------------------------------

Result<LineSetup*> Executor::setup_line(const Line& line) {
  if (auto it = m_setups.find(line.id); it != m_setups.end() && it->second.digest == line.blueprint_digest) {
    return &it->second;
  }
  FAB_TRY_ASSIGN(auto bp, load_line_blueprint(m_factory.store(), line));
  LineSetup s;
  auto resolve = [&](const PluginUse& use, PluginKind kind) -> Result<PluginStep> {
    // Found and checked (loads, ABI, callbacks, kind) in a child, once per run, before any call.
    auto ref = plugins::find_valid_plugin(use.plugin, kind, m_host);
    if (!ref) return fail(ref.error().context(fmt::format("line {}: its blueprint ({})", line.id, use.key_path)));
    PluginStep step{use, *ref, call_options_for(bp, use, kind, CallPlaces{})};
    return step;
  };
  FAB_TRY_ASSIGN(s.agent, resolve(bp.agent, PluginKind::agent));
  for (const auto& use : bp.inspect) {
    FAB_TRY_ASSIGN(auto step, resolve(use, PluginKind::inspector));
    s.inspectors.push_back(std::move(step));
  }
  for (const auto& use : bp.refine) {
    FAB_TRY_ASSIGN(auto step, resolve(use, PluginKind::refinery));
    s.resolvers.push_back(std::move(step));
  }
  s.blueprint = std::move(bp);
  s.digest = line.blueprint_digest;
  return &m_setups.insert_or_assign(line.id, std::move(s)).first->second;
}

// Items a trunk repair put back to the queue (trunk.h): the store has them queued; this run's
// copies of their lines are read again, and the progress says so.
Status Executor::requeue_relanded() {
  for (const auto& r : m_trunks.take_relanded()) {
    FAB_TRY_ASSIGN(auto rec, m_factory.store().load_line(r.line));
    m_records[r.line] = std::move(rec);
    const Item* item = m_records[r.line].find(r.item);
    moved(r.line, r.item, ItemState::merged, ItemState::queued, item ? item->attempts : 0, r.why);
  }
  return {};
}

Status Executor::reload_line(const std::string& id) {
  auto rec = m_factory.store().load_line(id);
  if (!rec) {
    m_records.erase(id);
    if (!m_problems.count(id)) {
      m_problems[id] = rec.error().render();
      m_report.skipped.push_back(id + ": " + rec.error().message);
      note("line " + id + " is skipped: " + rec.error().message, id);
    }
    return {};
  }
  m_records[id] = std::move(*rec);
  const auto setup_it = m_setups.find(id);
  // A new line, or one whose blueprint `fab line reblueprint` replaced: (re)set up.
  if (setup_it == m_setups.end() || setup_it->second.digest != m_records[id].line.blueprint_digest) {
    auto setup = setup_line(m_records[id].line);
    if (!setup) {
      m_problems[id] = setup.error().render();
      m_report.skipped.push_back(id + ": " + setup.error().message);
      note("line " + id + " is skipped: " + setup.error().message, id);
    } else {
      m_problems.erase(id);
      if (m_trunks.state((*setup)->blueprint.trunk).seen.empty()) {
        FAB_TRY_ASSIGN(auto t, m_trunks.start((*setup)->blueprint.trunk));
        FAB_TRY(requeue_relanded());
        if (t.halted) {
          m_report.halted.push_back((*setup)->blueprint.trunk + ": " + t.why);
          note(fmt::format("stopped landing on {0}: {1}. `fab recover --accept-trunk {0}` continues from where it is now",
                           (*setup)->blueprint.trunk, t.why),
               id);
        }
      }
    }
  }
  return {};
}

// Every line's id, oldest first, a damaged one too (its load fails and sets it aside, alone).
static Result<std::vector<std::string>> all_line_ids(const Store& store) {
  FAB_TRY_ASSIGN(auto listing, store.list_lines());
  std::vector<std::string> ids;
  for (const auto& s : listing.lines) ids.push_back(s.line.id);
  for (const auto& d : listing.damaged) ids.push_back(d.id);
  return ids;
}

Status Executor::load_lines() {
  FAB_TRY_ASSIGN(auto all, all_line_ids(m_factory.store()));
  std::vector<std::string> ids;
  for (const auto& l : all) {
    if (m_options.line.empty() || l == m_options.line) ids.push_back(l);
  }
  if (!m_options.line.empty() && ids.empty()) {
    return fail(fmt::format("no line '{}' in this factory", m_options.line), "list the lines with `fab status`");
  }
  for (const auto& id : ids) {
    if (std::find(m_line_order.begin(), m_line_order.end(), id) == m_line_order.end()) m_line_order.push_back(id);
    std::error_code ec;
    const auto dir = m_factory.store().line_dir(id);
    m_seen_stamp[id] = std::max(fs::last_write_time(dir / "line.json", ec), fs::last_write_time(dir / "journal.jsonl", ec));
    FAB_TRY(reload_line(id));
  }
  return {};
}

// --- start and recovery ----------------------------------------------------------------------------

Result<std::vector<Repair>> Executor::start(bool resume) {
  std::vector<Repair> repairs;
  wait_for_orphaned_jj(m_factory.root(), std::chrono::seconds(10));
  FAB_TRY_ASSIGN(auto stamps, clean_interrupted_stamps(m_factory));
  for (auto& s : stamps) repairs.push_back({"", "", std::move(s)});
  FAB_TRY_ASSIGN(auto op, m_factory.repo().current_operation());
  m_ledger.reset(op);

  // Workspaces no run owns (a run died): forgotten, their directories removed. The item's change
  // keeps what its last snapshot recorded.
  {
    FAB_TRY_ASSIGN(auto list, m_factory.repo().workspaces());
    std::vector<std::string> names;
    for (const auto& ws : list) {
      if (is_pool_workspace(ws.name)) names.push_back(ws.name);
    }
    if (!names.empty()) {
      FAB_TRY(own([&] { return m_factory.repo().with_cause("fab: forget workspaces no run owns").forget_workspaces(names); }));
      for (const auto& n : names) repairs.push_back({"", "", fmt::format("forgot workspace {} (no run owns it)", n)});
    }
    std::error_code ec;
    for (const auto& dir : {m_factory.workspaces_dir(), m_factory.factory_dir() / "workspaces"}) {
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code rm;
        fs::remove_all(it->path(), rm);
      }
    }
    // Their git worktrees too (colocated, git >= 2.54), so none is left in the user's .git/worktrees/.
    // What git cannot remove is reported (`fab gc` tries again), not a reason to stop the run.
    if (auto removed = m_factory.repo().remove_git_worktrees(m_factory.workspaces_dir()); !removed) {
      repairs.push_back({"", "", "could not remove the git worktrees of gone workspaces (fab gc tries again): " +
                                     removed.error().message});
    }
  }

  // A damaged line.json is rebuilt from its line's journal (Store::repair_line), and said so. A
  // line whose journal itself is damaged stays as it is: load_lines() sets it aside.
  {
    FAB_TRY_ASSIGN(auto listing, m_factory.store().list_lines());
    for (const auto& s : listing.lines) {
      if (!m_options.line.empty() && s.line.id != m_options.line) continue;
      auto what = m_factory.store().repair_line(s.line.id);
      if (!what) {
        note(fmt::format("line {}: {}", s.line.id, what.error().message));
      } else if (*what) {
        repairs.push_back({s.line.id, "", **what});
      }
    }
  }

  // The journal catches up with states a kill saved without their record.
  {
    FAB_TRY_ASSIGN(auto lines, all_line_ids(m_factory.store()));
    for (const auto& id : lines) {
      if (!m_options.line.empty() && id != m_options.line) continue;
      auto lost = m_factory.store().journal_lost_transitions(
          id, "recovered: journaled after a crash (the state was saved, its record was not)", {{"op", op}});
      if (!lost) continue;  // a damaged line: load_lines reports it
      for (const auto& what : *lost) {
        const auto space = what.find(' ');
        repairs.push_back({id, what.substr(0, space), what.substr(space + 1) + ": journal record restored"});
      }
    }
  }

  FAB_TRY(load_lines());
  if (resume) {
    m_watch = std::make_unique<CheckoutWatch>(m_factory.root());
    if (!m_watch->limits().empty()) note(m_watch->limits());
  }

  // The crash guard: an item being worked on when fab itself crashed (not when it was killed).
  {
    const auto guard = m_factory.factory_dir() / "crash-guard";
    if (auto text = read_file_text(guard)) {
      const auto item = text->substr(0, text->find_first_of(" \n"));
      // Only a crash counts (the handler below marks it); a kill (-9, the machine going down)
      // leaves the guard unmarked and says nothing about the item.
      auto found = find(item);
      if (found && text->find(kCrashedMark) != std::string::npos) {
        const int crashes = found->extra.value("crashes", 0) + 1;
        (void)m_factory.store().update_item(item, [crashes](Item& i) { i.extra["crashes"] = crashes; });
        (void)reload_line(found->line);
        repairs.push_back({found->line, item, fmt::format("made fab crash while it worked on it ({} so far)", crashes)});
      }
      std::error_code ec;
      fs::remove(guard, ec);
    }
  }

  // The recovery plan, on facts from the repo: where each item's change is.
  m_recovering = true;
  std::map<std::string, ItemView> facts;
  std::vector<std::pair<std::string, std::string>> stacked;  // (line, item)
  for (const auto& id : m_line_order) {
    auto rec = m_records.find(id);
    if (rec == m_records.end()) continue;
    std::vector<std::string> terms;
    for (const auto& item : rec->second.items) {
      if (item.change) terms.push_back(fmt::format("change_id({})", item.change->str()));
    }
    if (terms.empty()) continue;
    // In pieces: a big line's set does not fit one command-line argument.
    const auto sets = revset_unions(terms);
    std::vector<Commit> commits;
    for (const auto& set : sets) {
      FAB_TRY_ASSIGN(auto some, m_factory.repo().query(set));
      std::move(some.begin(), some.end(), std::back_inserter(commits));
    }
    std::map<std::string, int> count;
    for (const auto& c : commits) ++count[c.change_id.str()];
    const auto& trunk = trunk_of(id);
    std::set<std::string> on_trunk;
    if (!trunk.empty()) {
      for (const auto& set : sets) {
        auto in = m_factory.repo().query(fmt::format("({}) & ::bookmarks(exact:{})", set, revset_string(trunk)));
        if (in) {
          for (const auto& c : *in) on_trunk.insert(c.change_id.str());
        }
      }
    }
    // Which commit is whose change: an item that already had an attempt and now waits in the queue
    // on another item's change (a merge chain cut short, a rollback into its middle) is moved back
    // onto trunk before it starts again.
    std::map<std::string, std::string> change_of_commit;
    for (const auto& c : commits) change_of_commit[c.commit_id] = c.change_id.str();
    for (const auto& item : rec->second.items) {
      if (!item.change || item.attempts == 0 || on_trunk.count(item.change->str())) continue;
      if (item.state != ItemState::queued && item.state != ItemState::rework) continue;
      for (const auto& c : commits) {
        if (c.change_id != *item.change) continue;
        for (const auto& p : c.parents) {
          auto owner = change_of_commit.find(p);
          if (owner != change_of_commit.end() && owner->second != c.change_id.str() && !on_trunk.count(owner->second)) {
            stacked.push_back({id, item.id});
          }
        }
      }
    }
    for (const auto& item : rec->second.items) {
      if (!item.change) continue;
      const auto c = item.change->str();
      ItemView v;
      v.change_missing = !count.count(c);
      v.change_divergent = count[c] > 1;
      v.on_trunk = on_trunk.count(c) > 0;
      v.crashes = item.extra.value("crashes", 0);
      facts[item.id] = v;
    }
  }
  View v = view();
  v.recovering = true;
  v.resume = resume;
  for (auto& line : v.lines) {
    for (auto& item : line.items) {
      auto it = facts.find(item.id);
      if (it == facts.end()) continue;
      item.change_missing = it->second.change_missing;
      item.change_divergent = it->second.change_divergent;
      item.on_trunk = it->second.on_trunk;
      item.crashes = it->second.crashes;
    }
  }
  for (const auto& a : plan(v)) {
    std::map<std::string, std::string> was;
    for (const auto& item : a.items) {
      if (auto i = find(item)) was[item] = to_string(i->state);
    }
    m_repair_reason.clear();
    auto done = recovery_action(a);
    if (!done) {
      note(fmt::format("could not repair {}: {}", a.items.empty() ? a.line : a.items.front(), done.error().message),
           a.line);
      continue;
    }
    if (a.what == Do::resume_inspect || a.what == Do::resume_land) continue;
    for (const auto& item : a.items) {
      auto i = find(item);
      const std::string now = i ? std::string(to_string(i->state)) : "?";
      repairs.push_back({a.line, item,
                         was[item] == now && !m_repair_reason.empty()
                             ? m_repair_reason
                             : fmt::format("{} -> {}: {}", was[item], now,
                                           m_repair_reason.empty() ? std::string(to_string(a.what)) : m_repair_reason)});
    }
  }
  for (const auto& [line, id] : stacked) {
    auto item = find(id);
    if (!item || !item->change) continue;
    const auto trunk = trunk_of(line);
    const auto& seen = m_trunks.state(trunk).seen;
    if (seen.empty()) continue;  // (a halted trunk: left as it is)
    Repo repo = m_factory.repo().with_cause(format_cause(line, {id}, "queued (recovered: move back onto trunk)"));
    auto moved = own([&] { return repo.rebase_revision(item->change->str(), seen); });
    if (!moved) {
      note(fmt::format("could not move {} back onto {}: {}", id, trunk, moved.error().message), line);
      continue;
    }
    repairs.push_back({line, id, fmt::format("moved back onto {} (it sat on another item's change)", trunk)});
  }
  m_recovering = false;
  // Repairs go into each line's journal (a record that cannot be written costs the record only).
  (void)journal_repairs(m_factory.store(), repairs, "crash repair");
  FAB_TRY_ASSIGN(auto now, m_factory.repo().current_operation());
  m_ledger.reset(now);
  return repairs;
}

Status Executor::requeue(const std::string& item, const std::string& reason) {
  return store_transition(item, ItemState::queued, reason, {}, [](Item& i) {
           if (i.attempts > 0) --i.attempts;
         }, TransitionKind::recovery)
      .map([](auto&&) {});
}

Status Executor::recovery_action(const Action& a) {
  const auto& id = a.items.front();
  FAB_TRY_ASSIGN(auto item, find(id));
  const auto state = std::string(to_string(item.state));
  switch (a.what) {
    case Do::requeue:
      m_repair_reason = fmt::format("interrupted while {} (attempt {} not counted)", state, item.attempts);
      return requeue(id, "recovered: " + m_repair_reason);
    case Do::drop_vanished: {
      auto reason = fmt::format("recovered: its change {} is no longer in the repo", short_change(item));
      m_repair_reason = reason.substr(11);
      if (item.state == ItemState::merged) {
        FAB_TRY(m_factory.store().rollback(id, reason, {}));
        FAB_TRY(reload_line(item.line));
      }
      return store_transition(id, ItemState::dropped, reason, {}, [&](Item& i) { i.drop_reason = reason.substr(11); },
                              TransitionKind::recovery)
          .map([](auto&&) {});
    }
    case Do::settle_divergent: {
      FAB_TRY_ASSIGN(auto copies, m_factory.repo().query(fmt::format("change_id({})", item.change->str())));
      // Keep the commit the journal recorded last for it, else the one trunk holds, else jj's first.
      std::string keep;
      FAB_TRY_ASSIGN(auto journal, m_factory.store().journal(item.line));
      for (const auto& r : journal) {
        if (r.str("item") == id && !r.str("commit").empty()) keep = r.str("commit");
      }
      auto kept = std::find_if(copies.begin(), copies.end(), [&](const Commit& c) { return c.commit_id == keep; });
      if (kept == copies.end()) {
        auto on_trunk = m_factory.repo().query(fmt::format("change_id({}) & ::bookmarks(exact:{})", item.change->str(),
                                                           revset_string(trunk_of(item.line))));
        if (on_trunk && !on_trunk->empty()) keep = on_trunk->front().commit_id;
        kept = std::find_if(copies.begin(), copies.end(), [&](const Commit& c) { return c.commit_id == keep; });
      }
      if (kept == copies.end()) kept = copies.begin();
      std::vector<std::string> others;
      for (const auto& c : copies) {
        if (c.commit_id != kept->commit_id) others.push_back(c.commit_id);
      }
      Repo repo = m_factory.repo().with_cause(format_cause(item.line, {id}, state + " (recovered: settle divergent change)"));
      FAB_TRY(own([&] { return repo.abandon_commits(others); }));
      JournalRecord r;
      r.kind = "note";
      r.fields = {{"item", id},
                  {"text", fmt::format("recovered: its change was divergent; kept {}, abandoned {}", short_hex(kept->commit_id),
                                       others.size())}};
      m_repair_reason = r.str("text").substr(11);
      return m_factory.store().append_journal(item.line, r);
    }
    case Do::mark_merged:
      m_repair_reason = fmt::format("{} already contains its change", trunk_of(item.line));
      return store_transition(id, ItemState::merged, "recovered: " + m_repair_reason, {}).map([](auto&&) {});
    case Do::drop:
      m_repair_reason = a.reason;
      return store_transition(id, ItemState::dropped, "recovered: " + a.reason, {},
                              [&](Item& i) { i.drop_reason = a.reason; }, TransitionKind::normal)
          .map([](auto&&) {});
    case Do::resume_inspect:
    case Do::resume_land: {
      Flight f(item.line, id, *item.change);
      f.attempt = item.attempts;
      f.stage = a.what == Do::resume_inspect ? Stage::inspect_waiting : Stage::land_waiting;
      f.seq = ++m_seq;
      m_flights.emplace(id, std::move(f));
      note(fmt::format("carries on with {} (attempt {}): {}", id, item.attempts,
                       a.what == Do::resume_inspect ? "its agent's work is kept; inspecting it" : "landing it"),
           item.line);
      return {};
    }
    default:
      return fail_internal(fmt::format("not a recovery action: {}", to_string(a.what)));
  }
}

// --- the view --------------------------------------------------------------------------------------

View Executor::view() const {
  View v;
  v.slots = m_options.slots.value_or(default_slots());
  v.stopping = m_stopping;
  v.draining = gc_due();
  v.recovering = m_recovering;
  for (const auto& id : m_line_order) {
    LineView lv;
    lv.id = id;
    auto setup = m_setups.find(id);
    auto rec = m_records.find(id);
    lv.usable = setup != m_setups.end() && rec != m_records.end() && !m_problems.count(id);
    if (auto p = m_problems.find(id); p != m_problems.end()) lv.problem = p->second;
    if (setup != m_setups.end()) {
      const auto& bp = setup->second.blueprint;
      lv.trunk = bp.trunk;
      lv.slots = m_options.slots ? v.slots : bp.slots;
      lv.rework_limit = bp.rework_limit;
      lv.has_inspectors = !setup->second.inspectors.empty();
      lv.rework = bp.rework == Blueprint::Rework::restart ? ReworkPolicy::restart : ReworkPolicy::continue_change;
    }
    if (rec != m_records.end()) {
      for (const auto& item : rec->second.items) {
        ItemView iv;
        iv.id = item.id;
        iv.state = item.state;
        iv.attempts = item.attempts;
        iv.depends_on = item.depends_on;
        iv.has_change = item.change.has_value();
        lv.items.push_back(std::move(iv));
      }
    }
    if (!lv.trunk.empty()) {
      const auto& t = const_cast<TrunkKeeper&>(m_trunks).state(lv.trunk);
      v.trunks[lv.trunk].halted = t.halted;
      v.trunks[lv.trunk].why = t.why;
      v.trunks[lv.trunk].landing = m_land_blocked.count(lv.trunk) > 0;
    }
    v.lines.push_back(std::move(lv));
  }
  for (const auto& [id, f] : m_flights) {
    FlightView fv;
    fv.line = f.line;
    fv.stage = f.stage;
    fv.ok = f.result.ok;
    fv.permanent = f.permanent;
    fv.conflicted = f.conflicted;
    fv.interrupted = f.interrupted;
    fv.seq = f.seq;
    v.flights.emplace(id, fv);
  }
  return v;
}

// --- executing -------------------------------------------------------------------------------------

Status Executor::execute(const Action& a) {
  auto flight = [&](const std::string& id) -> Flight* {
    auto it = m_flights.find(id);
    return it == m_flights.end() ? nullptr : &it->second;
  };
  // Whatever goes wrong in an action is that item's problem (its attempt fails), unless the
  // factory itself is broken.
  auto guarded = [&](Flight* f, const std::function<Status()>& body) -> Status {
    // (No fsync: it must outlive a crash of this process, not of the machine.)
    auto guard = m_factory.factory_dir() / "crash-guard";
    install_crash_marker(guard);
    if (f) std::ofstream(guard, std::ios::trunc) << f->item << " " << to_string(a.what) << "\n";
    auto r = body();
    std::error_code ec;
    if (f) fs::remove(guard, ec);
    if (r) return r;
    if (!health_check()) return r;
    if (f && m_flights.count(f->item)) {
      // Another call's operation may be what broke it: then it is not this item's failure.
      FAB_TRY_ASSIGN(auto harm, harm_by_others(f->item));
      if (!harm.empty()) return requeue_flight(f->item, harm);
      f->abnormal = true;
      fail_flight(*f, fmt::format("fab could not {} for this item:\n{}", to_string(a.what), r.error().render()));
      return {};
    }
    note(fmt::format("could not {} {}: {}", to_string(a.what), a.items.empty() ? a.line : a.items.front(),
                     r.error().message),
         a.line);
    return {};
  };
  switch (a.what) {
    case Do::start:
      return start_items(a);
    case Do::land:
      return guarded(flight(a.items.front()), [&] { return land(a); });
    case Do::drop_blocked: {
      auto item = find(a.items.front());
      if (!item) return {};
      auto dep = find(a.reason);
      const auto reason = fmt::format("dependency {} ({}) was dropped", a.reason, dep ? dep->title : "?");
      FAB_TRY(store_transition(item->id, ItemState::dropped, reason, {}, [&](Item& i) { i.drop_reason = reason; }));
      ++m_report.dropped;
      m_report.blocked.push_back(item->id);
      return {};
    }
    default:
      break;
  }
  Flight* f = flight(a.items.front());
  if (!f) return recovery_action(a);
  switch (a.what) {
    case Do::take_agent: return guarded(f, [&] { return take_agent(*f); });
    case Do::inspect: return guarded(f, [&] { return inspect(*f); });
    case Do::take_inspection: return guarded(f, [&] { return take_inspection(*f); });
    case Do::refine: return guarded(f, [&] { return refine(*f); });
    case Do::take_refine: return guarded(f, [&] { return take_refine(*f); });
    case Do::rework: return end_attempt(*f, ItemState::rework, "");
    case Do::drop: return end_attempt(*f, ItemState::dropped, a.reason);
    case Do::park: {
      // Stopped before its call finished: an agent's attempt is not counted (the change keeps
      // what it had); an interrupted inspection or landing is carried on by the next run.
      if (f->job) f->job->join();
      if (f->slot) m_ledger.call_ended(f->slot->name);
      f->abnormal = true;
      release_slot(*f);
      const auto id = a.items.front();
      m_flights.erase(id);
      auto item = find(id);
      if (item && item->state == ItemState::building) {
        FAB_TRY(requeue(id, fmt::format("stopped while building (attempt {} not counted)", item->attempts)));
      }
      return {};
    }
    default:
      return recovery_action(a);
  }
}

Status Executor::start_items(const Action& a) {
  auto setup_it = m_setups.find(a.line);
  if (setup_it == m_setups.end()) return {};
  const LineSetup& setup = setup_it->second;
  const auto& trunk = setup.blueprint.trunk;
  const auto base = m_trunks.state(trunk).seen;
  if (base.empty()) return {};
  std::vector<Item> items;
  for (const auto& id : a.items) {
    auto item = find(id);
    if (item && item->change) items.push_back(*item);
  }
  if (items.empty()) return {};
  // An item whose change trunk already holds landed (its landing failed after trunk took it: a full
  // disk while fab recorded it): merged, never built or landed again. Only an item that had an
  // attempt can be one, so a first start costs no jj call for it.
  std::vector<ChangeId> tried;
  for (const auto& i : items) {
    if (i.attempts > 0) tried.push_back(*i.change);
  }
  if (!tried.empty()) {
    FAB_TRY_ASSIGN(auto held, m_factory.repo().query(fmt::format("({}) & ::{}", revset_of(tried), base)));
    std::set<std::string> landed;
    for (const auto& c : held) landed.insert(c.change_id.str());
    std::vector<Item> rest;
    for (auto& i : items) {
      if (!landed.count(i.change->str())) {
        rest.push_back(std::move(i));
        continue;
      }
      auto done = store_transition(i.id, ItemState::merged, fmt::format("{} already holds its change", trunk), {}, {},
                                   TransitionKind::recovery);
      if (!done) {
        note(fmt::format("{}: {} holds its change, but fab could not record it merged: {}", i.id, trunk,
                         done.error().message),
             a.line);
        continue;
      }
      ++m_report.merged;
    }
    items = std::move(rest);
    if (items.empty()) return {};
  }
  // One rebase onto trunk for the items starting now (jj leaves those already there alone; the
  // queue's stack above them closes up). Items next to each other in the stack take one operation
  // more each. With `rework: restart`, an item that failed starts from a clean trunk, in the same
  // change.
  std::vector<ChangeId> ids;
  std::vector<std::string> names;
  bool any_work = false;
  for (const auto& i : items) {
    ids.push_back(*i.change);
    names.push_back(i.id);
    any_work = any_work || i.attempts > 0;
  }
  Repo repo = m_factory.repo().with_cause(format_cause(a.line, names, "-> building (rebase onto " + trunk + ")"));
  auto rebased = own([&] { return repo.rebase_revisions(ids, base, /*separately=*/true); });
  if (!rebased) {
    if (!health_check()) return rebased;
    for (const auto& i : items) note(fmt::format("{} cannot start: {}", i.id, rebased.error().message), a.line);
    return {};
  }
  std::set<std::string> conflicted;
  if (any_work) {
    for (const auto& i : items) {
      if (i.state != ItemState::rework || setup.blueprint.rework != Blueprint::Rework::restart) continue;
      Repo r = m_factory.repo().with_cause(format_cause(a.line, {i.id}, "rework -> building (restart from trunk)"));
      FAB_TRY(own([&] { return r.restore_into(base, i.change->str()); }));
    }
    FAB_TRY_ASSIGN(auto c, m_factory.repo().query(fmt::format("({}) & conflicts()", revset_of(ids))));
    for (const auto& x : c) conflicted.insert(x.change_id.str());
  }
  for (const auto& item : items) {
    Flight fl(a.line, item.id, *item.change);
    fl.attempt = item.attempts + 1;
    fl.base = base;
    auto& f = m_flights.emplace(item.id, std::move(fl)).first->second;
    auto moved = move(f, item.state, ItemState::building, fmt::format("attempt {}", f.attempt), {{"attempt", f.attempt}},
                      [](Item& i) { ++i.attempts; });
    if (!moved) {
      m_flights.erase(item.id);
      if (!health_check()) return fail(moved.error());
      note(fmt::format("{} cannot start: {}", item.id, moved.error().message), a.line);
      continue;
    }
    Status began;
    if (conflicted.count(item.change->str())) {
      // A conflict found when the attempt starts goes to the resolvers first; the agent gets what
      // they could not settle.
      f.prestart = true;
      f.conflicted = true;
      began = refine(f);
    } else {
      began = begin_attempt(f);
    }
    if (!began) {
      if (!health_check()) return began;
      FAB_TRY_ASSIGN(auto harm, harm_by_others(item.id));
      if (!harm.empty()) {
        FAB_TRY(requeue_flight(item.id, harm));
        continue;
      }
      f.abnormal = true;
      fail_flight(f, "fab could not start the attempt:\n" + began.error().render());
    }
  }
  return {};
}

Status Executor::begin_attempt(Flight& f) {
  const LineSetup& setup = m_setups.at(f.line);
  FAB_TRY_ASSIGN(auto item, find(f.item));
  FAB_TRY(workspace_for(f, fmt::format("{} -> building", to_string(item.state))));
  std::string feedback = item.feedback;
  if (!f.feedback.empty()) feedback += (feedback.empty() ? "" : "\n\n") + f.feedback;
  FAB_TRY_ASSIGN(auto file, write_item_file(m_factory, item, f.attempt, feedback));
  auto request = work_request(item, f, file);
  request["feedback"] = feedback;
  f.feedback.clear();
  f.resolved_by.clear();  // what the agent hands in is its own, whoever wrote a file before it
  f.stage = Stage::agent_running;
  const PluginStep agent = with_paths(setup.agent, f);
  spawn(f, [agent, request](Flight& fl) { fl.result = run_agent(agent, request); });
  return {};
}

Status Executor::take_agent(Flight& f) {
  f.job->join();
  f.job.reset();
  if (f.slot) m_ledger.call_ended(f.slot->name);
  const LineSetup& setup = m_setups.at(f.line);
  FAB_TRY_ASSIGN(auto item, find(f.item));
  write_attempt_log(m_factory, item, f.attempt, "agent", f.result.log);
  record_steps(f, f.result.steps);
  std::vector<std::string> problems;

  // 1. The workspace itself.
  Slot& slot = *f.slot;
  std::error_code ec;
  if (!fs::exists(slot.dir / ".jj" / "repo", ec)) {
    f.abnormal = true;
    FAB_TRY(put_back_git_refs(f, "building"));
    fail_flight(f, fmt::format("the agent deleted its workspace ({}): what it wrote there since the last snapshot is "
                               "lost. Work only inside the workspace, and leave its .jj/ alone.",
                               slot.dir.string()));
    return {};
  }
  if (auto strays = WorkspacePool::strays(slot); !strays.empty()) {
    f.abnormal = true;
    problems.push_back(fmt::format("the agent wrote outside its workspace (next to it, in {}); fab removed it:\n{}",
                                   slot.home.string(), joined_lines(strays)));
    WorkspacePool::remove_strays(slot);
  }

  // 2. Its files, recorded in the change (what jj refused to record is named). An operation of the
  // call that harmed others is reverted first (observe()): after `jj op restore` to before the
  // stamp, neither the item's change nor its workspace exist until it is, and the snapshot (or a
  // fresh workspace at the change) would fail the attempt. The periodic observe() usually got there
  // first; this makes it certain.
  FAB_TRY(observe());
  Repo repo = repo_for(f, "building (snapshot)");
  // The snapshot rewrites whatever commit the workspace has checked out: never a bookmarked one
  // (trunk, after `jj edit main`) or another item's change: then jj puts the files in a new commit
  // on top of it, which the fold below takes into the item's change.
  std::string protect = fmt::format("(bookmarks() ~ change_id({})::)", f.change.str());
  for (const auto& [id, other] : m_flights) {
    if (id != f.item) protect += fmt::format(" | present(change_id({}))", other.change.str());
  }
  auto snapshot = [&] {
    return own_r<Repo::Snapshot>([&] {
      return repo.snapshot_and_read(f.slot->dir, setup.blueprint.max_file_size, fmt::format("change_id({})", f.change.str()),
                                    true, protect);
    });
  };
  auto snapped = snapshot();
  if (!snapped) {
    // Its workspace was forgotten, or went stale (its commit was rewritten from elsewhere, or a
    // revert put it back): a fresh workspace at the change gets the files left on disk, so nothing
    // the agent wrote is lost and nothing lands twice.
    const auto why = snapped.error().render();
    if (why.find("doesn't have a working-copy commit") != std::string::npos || why.find("stale") != std::string::npos) {
      auto adopted = adopt_workspace(f);
      snapped = adopted ? snapshot() : tl::make_unexpected(adopted.error());
    }
  }
  note_pool_op();
  if (!snapped) {
    f.abnormal = true;
    FAB_TRY(put_back_git_refs(f, "building"));
    fail_flight(f, "fab could not record what the agent wrote in its workspace (" + f.slot->dir.string() + "):\n" +
                       snapped.error().render());
    return {};
  }
  if (!snapped->refused.empty()) {
    f.abnormal = true;  // the refused files stay on disk: the workspace is not reused
    problems.push_back(refused_feedback(snapped->refused, setup.blueprint.max_file_size));
  }
  const Commit wc = snapped->commits.front();
  std::size_t copies = 0;
  for (std::size_t i = 1; i < snapped->commits.size(); ++i) copies += snapped->commits[i].change_id == f.change;
  if (wc.change_id == f.change) copies = std::max<std::size_t>(copies, 1);

  // What it did with git's refs in its worktree (branches, tags, the stash: shared with the user's
  // repository) is put back, and jj told, before the fold: the commits it made are the working
  // copy's ancestors now (the snapshot took git's HEAD in), and a tag would make them immutable.
  FAB_TRY(put_back_git_refs(f, "building"));

  // 3. What it did with jj: folded back into its change, the rest put back.
  FAB_TRY(observe());
  watch_checkout();
  const auto ops = ops_of(f.item);
  const std::string description = item_change_description(item.title, item.line, item.id);
  const bool clean = ops.empty() && wc.change_id == f.change && copies == 1 && wc.parents == std::vector<std::string>{f.base} &&
                     wc.description == description;
  Commit commit = wc;
  if (!clean) {
    f.abnormal = true;
    AgentWorkInput in{f.change, f.known, f.base, setup.blueprint.trunk, m_trunks.state(setup.blueprint.trunk).seen,
                      description, f.slot->name, f.slot->dir, ops};
    if (in.trunk_now.empty()) in.trunk_now = f.base;
    Repo fold_repo = repo_for(f, "building (fold the agent's work into its change)");
    FAB_TRY_ASSIGN(auto work, fold_agent_work(fold_repo, in, [this](const std::string& op) { return changes_of(op); },
                                              [this](const std::function<Status()>& m) { return own(m); }));
    f.undone.insert(f.undone.end(), work.undone.begin(), work.undone.end());
    if (!work.failure.empty()) problems.push_back(work.failure);
    FAB_TRY(own([&] { return fold_repo.edit_in_workspace(f.slot->dir, f.change).map([](auto&&) {}); }));
    note_pool_op();
    FAB_TRY_ASSIGN(auto read, m_factory.repo().query_with_diffs(f.change.str(), f.change.str()));
    if (read.size() != 1) return fail(fmt::format("its change {} is {}", f.change.short_id(), read.empty() ? "gone" : "divergent"));
    commit = read.front();
  }
  if (!f.undone.empty()) {
    write_attempt_log(m_factory, item, f.attempt, "undone", joined_lines(f.undone, ""));
  }
  if (!f.touched.empty()) {
    std::vector<std::string> paths(f.touched.begin(), f.touched.end());
    const auto text = fmt::format(
        "while its call ran, files in your checkout ({}) changed — by the agent, or by you; an agent without "
        "`sandbox: true` can write anywhere you can:\n{}",
        m_factory.root().string(), joined_lines(paths));
    write_attempt_log(m_factory, item, f.attempt, "agent", "--- fab: " + text);
    JournalRecord r;
    r.kind = "note";
    r.fields = {{"item", f.item}, {"attempt", f.attempt}, {"text", text}};
    (void)m_factory.store().append_journal(f.line, r);
    note(text, f.line, f.item);
  }
  f.known = commit.commit_id;

  // 4. The verdict.
  const std::string diff = commit.diff.value_or("");
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += p + (p.back() == '\n' ? "" : "\n");
    fail_flight(f, text);
    return {};
  }
  if (!f.result.ok) {
    fail_flight(f, f.result.feedback, f.result.permanent);
    return {};
  }
  if (commit.conflict) {
    FAB_TRY_ASSIGN(auto paths, m_factory.repo().conflicted_paths(f.change));
    fail_flight(f, "the working copy still has conflicts with trunk (jj's conflict markers are in these files; "
                   "resolve them):\n" + joined_lines(paths));
    return {};
  }
  FAB_TRY_ASSIGN(auto marked, added_conflict_markers(m_factory.repo(), commit.commit_id, diff));
  if (!marked.empty()) {
    fail_flight(f, conflict_marker_feedback(marked));
    return {};
  }
  if (commit.empty && !setup.blueprint.allow_empty) {
    fail_flight(f, "the agent made no changes: its attempt left the item's change empty (set `allow_empty: true` in "
                   "the blueprint if that can be right)");
    return {};
  }
  if (auto links = outward_symlinks(diff); !links.empty()) {
    write_attempt_log(m_factory, item, f.attempt, "agent",
                      "--- fab: symlinks pointing out of the repository (they land as symlinks) ---\n" + joined_lines(links));
  }
  f.checked = f.inspected = commit.commit_id;
  std::string reason = "agent finished";
  if (!f.undone.empty()) reason += fmt::format(" (fab undid {} thing(s) its call did: see attempt-{}.undone.txt)", f.undone.size(), f.attempt);
  FAB_TRY(move(f, ItemState::building, ItemState::inspecting, reason));
  f.stage = Stage::inspect_waiting;
  if (setup.inspectors.empty()) release_slot(f);
  return {};
}

Status Executor::inspect(Flight& f) {
  const LineSetup& setup = m_setups.at(f.line);
  const bool again = f.stage == Stage::reinspect_waiting;
  if (setup.inspectors.empty()) {
    f.result = JobResult{true, false, "", "", "", {}};
    f.stage = again ? Stage::reinspect_finished : Stage::inspect_finished;
    return {};
  }
  FAB_TRY_ASSIGN(auto item, find(f.item));
  FAB_TRY(workspace_for(f, again ? "refining (inspect again)" : "inspecting"));
  if (f.inspected.empty() || again) {
    FAB_TRY_ASSIGN(auto c, m_factory.repo().commit(f.change));
    f.inspected = c.commit_id;
    f.known = c.commit_id;
  }
  auto request = work_request(item, f, item_dir(m_factory, item) / fmt::format("attempt-{}.md", f.attempt));
  std::vector<PluginStep> steps;
  for (const auto& s : setup.inspectors) steps.push_back(with_paths(s, f));
  f.stage = again ? Stage::reinspect_running : Stage::inspect_running;
  spawn(f, [steps, request](Flight& fl) { fl.result = run_inspectors(steps, request); });
  return {};
}

Status Executor::take_inspection(Flight& f) {
  const bool again = f.stage == Stage::reinspect_finished;
  if (f.job) {
    f.job->join();
    f.job.reset();
    if (f.slot) m_ledger.call_ended(f.slot->name);
  }
  FAB_TRY_ASSIGN(auto item, find(f.item));
  if (!f.result.log.empty()) write_attempt_log(m_factory, item, f.attempt, "inspect", f.result.log);
  record_steps(f, f.result.steps);
  // The branches, tags and stash entries they made with git in the worktree (the user's too) go.
  const auto undone_before = f.undone.size();
  FAB_TRY(put_back_git_refs(f, "inspected"));
  if (f.undone.size() > undone_before) write_attempt_log(m_factory, item, f.attempt, "undone", joined_lines(f.undone, ""));
  // What the inspectors wrote in the workspace (build output) never lands: back to what they judged.
  if (f.slot && !m_setups.at(f.line).inspectors.empty() && !f.inspected.empty()) {
    Repo repo = repo_for(f, "inspected (drop what the inspectors wrote)");
    FAB_TRY_ASSIGN(auto restored, own_r<std::string>([&] { return repo.restore_workspace(f.slot->dir, f.inspected); }));
    note_pool_op();
    f.known.clear();
    // The same tree as the one judged, in a new commit (a snapshot took the build output in first):
    // what lands is what they judged, so the new commit counts as inspected.
    if (!restored.empty()) {
      if (f.checked == f.inspected) f.checked = restored;
      f.inspected = f.known = restored;
    }
  }
  release_slot(f);
  if (!f.result.ok) {
    fail_flight(f, (again ? "after rebasing onto trunk, " : "") + f.result.feedback, f.result.permanent);
    return {};
  }
  if (!again) FAB_TRY(move(f, ItemState::inspecting, ItemState::refining, "inspections passed"));
  if (!again || f.seq == 0) f.seq = ++m_seq;
  f.stage = Stage::land_waiting;
  return {};
}

Status Executor::land(const Action& a) {
  if (a.items.size() == 1 && !m_setups.at(a.line).inspectors.empty()) return land_one(m_flights.at(a.items.front()), a.trunk);
  return land_chain(a.items, a.trunk);
}

Status Executor::land_one(Flight& f, const std::string& trunk) {
  const auto onto = m_trunks.state(trunk).seen;
  FAB_TRY_ASSIGN(auto c, m_factory.repo().commit(f.change));
  const bool in_place = c.parents == std::vector<std::string>{onto} && !c.conflict;
  if (in_place && (f.inspected.empty() || c.commit_id == f.inspected || m_setups.at(f.line).inspectors.empty())) {
    if (c.commit_id != f.checked) {
      FAB_TRY_ASSIGN(auto diffs, m_factory.repo().git_diffs({f.change}));
      FAB_TRY_ASSIGN(auto marked, added_conflict_markers(m_factory.repo(), c.commit_id, diffs[f.change.str()]));
      if (!marked.empty()) {
        fail_flight(f, "after rebasing onto " + trunk + ", " + conflict_marker_feedback(marked, f.resolved_by));
        return {};
      }
    }
    FAB_TRY_ASSIGN(bool moved, m_trunks.move(trunk, c.commit_id, repo_for(f, "refining -> merged")));
    if (!moved) {  // someone moved it meanwhile: the next look decides
      m_land_blocked.insert(trunk);
      return {};
    }
    f.known = c.commit_id;
    FAB_TRY(move(f, ItemState::refining, ItemState::merged, fmt::format("{} moved to its change", trunk)));
    ++m_report.merged;
    release_slot(f);
    m_flights.erase(f.item);
    return {};
  }
  FAB_TRY_ASSIGN(auto conflicts, own_r<std::vector<ChangeId>>([&] {
                   return repo_for(f, "refining (rebase onto " + trunk + ")").rebase({f.change}, onto);
                 }));
  f.base = onto;
  if (!conflicts.empty()) {
    f.conflicted = true;
    return {};
  }
  // The rebase changed what the inspectors saw: inspected again before it lands.
  f.stage = Stage::reinspect_waiting;
  return {};
}

Status Executor::land_chain(const std::vector<std::string>& items, const std::string& trunk) {
  const auto head = m_trunks.state(trunk).seen;
  std::vector<ChangeId> ids;
  std::string onto = head;
  std::string onto_name = trunk;
  for (const auto& id : items) {
    Flight& f = m_flights.at(id);
    // The first item, started on trunk's head with trunk unmoved since, is in place already (the
    // read below checks it); every other one is rebased onto the one before it.
    if (!(ids.empty() && f.base == head)) {
      FAB_TRY(own([&] {
        return repo_for(f, fmt::format("refining (rebase onto {})", onto_name)).rebase_revisions({f.change}, onto);
      }));
      f.base = ids.empty() ? head : std::string{};
    }
    ids.push_back(f.change);
    onto = f.change.str();
    onto_name = id;
  }
  FAB_TRY_ASSIGN(auto commits, m_factory.repo().query_with_diffs(fmt::format("{} | {}", head, revset_of(ids)), revset_of(ids)));
  std::map<std::string, const Commit*> by_change;
  for (const auto& c : commits) by_change[c.change_id.str()] = &c;
  std::string prev = head;
  std::size_t clean = 0;
  std::vector<MarkedFile> marked;
  for (; clean < ids.size(); ++clean) {
    auto it = by_change.find(ids[clean].str());
    if (it == by_change.end()) return fail(fmt::format("change {} is not in the repo", ids[clean].short_id()));
    const Commit& c = *it->second;
    if (c.parents != std::vector<std::string>{prev} || c.conflict) break;
    FAB_TRY_ASSIGN(marked, added_conflict_markers(m_factory.repo(), c.commit_id, c.diff.value_or("")));
    if (!marked.empty()) break;
    prev = c.commit_id;
  }
  if (clean > 0) {
    std::vector<std::string> landed(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(clean));
    const Flight& last = m_flights.at(landed.back());
    Repo repo = m_factory.repo().with_cause(format_cause(last.line, landed, "refining -> merged"));
    FAB_TRY_ASSIGN(bool moved, m_trunks.move(trunk, prev, repo));
    if (!moved) {
      m_land_blocked.insert(trunk);
      return {};
    }
    for (const auto& id : landed) {
      Flight& f = m_flights.at(id);
      f.known = by_change[f.change.str()]->commit_id;
      FAB_TRY(move(f, ItemState::refining, ItemState::merged,
                   landed.size() == 1 ? fmt::format("{} moved to its change", trunk)
                                      : fmt::format("{} moved to {} ({} items at once)", trunk, last.item, landed.size())));
      ++m_report.merged;
      release_slot(f);
      m_flights.erase(id);
    }
  }
  if (clean == ids.size()) return {};
  // The item that ended the clean run: markers go back to its agent; a conflict (or a change jj
  // did not put where asked) to the resolvers. The ones after it land in a later chain.
  Flight& f = m_flights.at(items[clean]);
  if (!marked.empty()) {
    fail_flight(f, "after rebasing onto " + trunk + ", " + conflict_marker_feedback(marked, f.resolved_by));
    return {};
  }
  const Commit& c = *by_change[f.change.str()];
  if (c.conflict) {
    f.conflicted = true;
  } else {
    // Not where it was put (someone rebased it meanwhile): onto trunk's head on its own, next time.
    FAB_TRY(own([&] { return repo_for(f, "refining (rebase onto " + trunk + ")").rebase_revisions({f.change}, head); }));
    f.base = head;
  }
  return {};
}

Status Executor::refine(Flight& f) {
  const LineSetup& setup = m_setups.at(f.line);
  FAB_TRY_ASSIGN(auto paths, m_factory.repo().conflicted_paths(f.change));
  std::vector<ConflictFile> files;
  for (const auto& path : paths) {
    ConflictFile file;
    file.path = path;
    auto sides = m_factory.repo().conflict_sides(f.change, path);
    if (sides) {
      file.base = std::move(sides->base);
      file.ours = std::move(sides->ours);
      file.theirs = std::move(sides->theirs);
    } else {
      file.error = sides.error().render();
    }
    files.push_back(std::move(file));
  }
  f.stage = Stage::refine_running;
  const auto resolvers = setup.resolvers;
  spawn(f, [resolvers, files = std::move(files)](Flight& fl) mutable { fl.refine = run_resolvers(resolvers, std::move(files)); });
  return {};
}

Status Executor::take_refine(Flight& f) {
  f.job->join();
  f.job.reset();
  FAB_TRY_ASSIGN(auto item, find(f.item));
  write_attempt_log(m_factory, item, f.attempt, "refine", f.refine.log);
  record_steps(f, f.refine.steps);
  std::vector<std::string> left;
  for (const auto& file : f.refine.files) {
    if (!file.resolved) {
      left.push_back(file.error.empty() ? file.path : fmt::format("{} ({})", file.path, file.error));
      continue;
    }
    Repo repo = repo_for(f, fmt::format("{} (resolve {} by {})", f.prestart ? "building" : "refining", file.path,
                                        file.settled_by));
    FAB_TRY(own([&] { return repo.write_resolution(f.change, file.path, file.content); }));
    f.resolved_by[file.path] = file.settled_by;
    note(fmt::format("refining: settled the conflict in {} ({})", file.path, file.settled_by), f.line, f.item);
    JournalRecord note;
    note.kind = "resolved";
    note.fields = {{"item", f.item}, {"path", file.path}, {"resolver", file.settled_by}, {"attempt", f.attempt}};
    FAB_TRY(m_factory.store().append_journal(f.line, note));
  }
  f.conflicted = false;
  f.known.clear();
  if (f.prestart) {
    f.prestart = false;
    if (!left.empty()) {
      f.feedback = "Your change conflicts with trunk and no resolver could settle it; these files hold jj's conflict "
                   "markers, resolve them (keep both sides' intent):\n" + joined_lines(left);
    }
    return begin_attempt(f);
  }
  if (!left.empty()) {
    fail_flight(f, "your change conflicts with trunk and no resolver could settle it. Your working copy is your change "
                   "rebased onto trunk; these files hold jj's conflict markers, resolve them (keep both sides' "
                   "intent):\n" + joined_lines(left));
    return {};
  }
  f.stage = m_setups.at(f.line).inspectors.empty() ? Stage::land_waiting : Stage::reinspect_waiting;
  return {};
}

Status Executor::end_attempt(Flight& f, ItemState to, const std::string& why) {
  const LineSetup& setup = m_setups.at(f.line);
  FAB_TRY_ASSIGN(auto item, find(f.item));
  std::string reason = summary_of(f.feedback);
  const std::string feedback = f.feedback;
  // The workspace goes first: whatever the attempt left there (a disk it filled) must not stop the
  // attempt's own record from being written.
  if (f.job) f.job->join();
  release_slot(f);
  if (to == ItemState::dropped) {
    reason = why == "permanent"
                 ? fmt::format("failed permanently (no retry can fix it) on attempt {}: {}", item.attempts, summary_of(feedback))
                 : fmt::format("failed {} of {} attempts; last: {}", item.attempts, setup.blueprint.rework_limit,
                               summary_of(feedback));
    FAB_TRY(move(f, item.state, to, reason, {{"feedback", feedback}}, [&](Item& i) {
      i.drop_reason = reason;
      i.feedback = feedback;
    }));
    ++m_report.dropped;
  } else {
    FAB_TRY(move(f, item.state, to, reason, {{"feedback", feedback}}, [&](Item& i) { i.feedback = feedback; }));
    ++m_report.reworked;
  }
  m_flights.erase(f.item);
  return {};
}

// --- the world outside -----------------------------------------------------------------------------

Status Executor::observe() {
  m_land_blocked.clear();
  // Other fab processes' writes to the store: `fab item retry`, `fab line drop`, a new stamp.
  {
    auto lines = all_line_ids(m_factory.store());
    if (lines) {
      for (const auto& id : *lines) {
        if (!m_options.line.empty() && id != m_options.line) continue;
        const auto dir = m_factory.store().line_dir(id);
        std::error_code ec;
        const auto stamp = std::max(fs::last_write_time(dir / "line.json", ec), fs::last_write_time(dir / "journal.jsonl", ec));
        auto seen = m_seen_stamp.find(id);
        if (seen != m_seen_stamp.end() && seen->second == stamp) continue;
        m_seen_stamp[id] = stamp;
        if (std::find(m_line_order.begin(), m_line_order.end(), id) == m_line_order.end()) m_line_order.push_back(id);
        FAB_TRY(reload_line(id));
      }
    }
  }
  watch_checkout();
  // Someone else's jj operations (and git's commits, for the trunks).
  std::vector<ForeignOp> fresh;
  if (m_ledger.dirty(m_factory.repo())) {
    FAB_TRY_ASSIGN(fresh, m_ledger.scan(m_factory.repo()));
    note_pool_op();
    m_foreign.insert(m_foreign.end(), fresh.begin(), fresh.end());
    FAB_TRY(revert_harm(fresh));
  }
  std::set<std::string> trunks;
  for (const auto& [id, s] : m_setups) trunks.insert(s.blueprint.trunk);
  for (const auto& trunk : trunks) {
    const bool was_halted = m_trunks.state(trunk).halted;
    std::vector<Undone> undone;
    auto state = m_trunks.refresh(trunk, fresh, [this](const std::string& op) { return changes_of(op); }, undone);
    if (!state) {
      if (is_trunk_missing(state.error())) continue;
      return fail(state.error());
    }
    for (const auto& u : undone) {
      if (auto it = m_flights.find(u.item); it != m_flights.end()) it->second.undone.push_back(u.what);
      note(u.what, "", u.item);
    }
    FAB_TRY(requeue_relanded());
    if (state->halted && !was_halted) {
      m_report.halted.push_back(trunk + ": " + state->why);
      note(fmt::format("stopped landing on {}: {}. `fab recover --accept-trunk {}` continues from where it is now",
                       trunk, state->why, trunk));
    }
  }
  return {};
}

// A call's operation that hid or rewrote commits that were not its own (another item's change, a
// trunk commit, the user's), or restored the repo to another operation, is reverted at once: the
// other items must not build on what it did. The item's own fold (engine/agent_work.h) sees it as
// done.
Status Executor::revert_harm(const std::vector<ForeignOp>& fresh) {
  for (const auto& f : fresh) {
    if (f.item.empty()) continue;
    auto flight = m_flights.find(f.item);
    if (flight == m_flights.end()) continue;
    FAB_TRY_ASSIGN(auto ch, changes_of(f.op.id));
    auto& made = m_made[f.item];
    bool harm = f.op.description.find("restore to operation") != std::string::npos ||
                f.op.description.find("undo operation") != std::string::npos ||
                f.op.description.find("revert operation") != std::string::npos;
    for (const auto& r : ch.removed) {
      if (r.change_id == flight->second.change || made.count(r.commit_id)) continue;
      harm = true;
    }
    for (const auto& a : ch.added) {
      if (a.change_id != flight->second.change) made.insert(a.commit_id);
    }
    if (!harm) continue;
    Repo repo = repo_for(flight->second, "building (revert what its call did to others' commits)");
    FAB_TRY(own([&] { return repo.revert_operation(f.op.id); }));
    m_reverted.insert(f.op.id);
    flight->second.undone.push_back(fmt::format("reverted its operation {} (\"{}\"): it changed commits that were not "
                                                "its own", short_hex(f.op.id), f.op.description));
    note(fmt::format("{}: reverted its call's operation {} (\"{}\"), which changed commits that were not its own",
                     f.item, short_hex(f.op.id), f.op.description),
         flight->second.line);
  }
  return {};
}

Result<std::string> Executor::harm_by_others(const std::string& item) {
  if (!m_ledger.dirty(m_factory.repo())) return std::string{};
  FAB_TRY_ASSIGN(auto fresh, m_ledger.scan(m_factory.repo()));
  note_pool_op();
  m_foreign.insert(m_foreign.end(), fresh.begin(), fresh.end());
  FAB_TRY(revert_harm(fresh));
  for (const auto& op : fresh) {
    if (op.item != item && m_reverted.count(op.op.id)) {
      return fmt::format("{}'s call made operation {} (\"{}\"), which broke what fab was doing for this item; fab "
                         "reverted it",
                         op.item, short_hex(op.op.id), op.op.description);
    }
  }
  return std::string{};
}

Status Executor::requeue_flight(const std::string& id, const std::string& why) {
  auto it = m_flights.find(id);
  if (it == m_flights.end()) return {};
  Flight& f = it->second;
  if (f.job) f.job->join();
  if (f.slot) m_ledger.call_ended(f.slot->name);
  f.abnormal = true;
  release_slot(f);
  m_flights.erase(it);
  FAB_TRY_ASSIGN(auto item, find(id));
  note(fmt::format("{}: {}; it goes back to the queue (attempt {} not counted)", id, why, item.attempts), item.line);
  return requeue(id, fmt::format("interrupted: {} (attempt {} not counted)", why, item.attempts));
}

bool Executor::harvest() {
  bool any = false;
  for (auto& [id, f] : m_flights) {
    if (!f.job || !f.job->done()) continue;
    switch (f.stage) {
      case Stage::agent_running: f.stage = Stage::agent_finished; break;
      case Stage::inspect_running: f.stage = Stage::inspect_finished; break;
      case Stage::reinspect_running: f.stage = Stage::reinspect_finished; break;
      case Stage::refine_running: f.stage = Stage::refine_finished; break;
      default: continue;
    }
    any = true;
  }
  return any;
}

bool Executor::any_call_running() const {
  for (const auto& [id, f] : m_flights) {
    if (f.job && !f.job->done()) return true;
  }
  return false;
}

bool Executor::all_flights_blocked() const {
  for (const auto& [id, f] : m_flights) {
    if (f.job) return false;
    auto setup = m_setups.find(f.line);
    if (setup == m_setups.end()) return false;
    auto t = m_trunks.find_state(setup->second.blueprint.trunk);
    if (!t || !t->halted) return false;
  }
  return !m_flights.empty();
}

void Executor::kill_calls() {
  bool running = false;
  for (auto& [id, f] : m_flights) {
    if (f.job && !f.job->done()) {
      running = true;
      f.interrupted = true;
    }
  }
  if (running) kill_all_children();
}

void Executor::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  m_wake.wait_for(lock, timeout, [this] { return m_finished > 0; });
  m_finished = 0;
}

Status Executor::idle() {
  if (!m_flights.empty()) return {};
  FAB_TRY(own([&] { return m_pool.forget_all(m_factory.repo().with_cause("fab run: idle (forget workspaces)")); }));
  collect_garbage_if_due();
  return {};
}

bool Executor::gc_due() const {
  const auto& gc = m_factory.config().gc;
  return gc.every_merged > 0 && static_cast<std::size_t>(m_report.merged - m_merged_at_gc) >= gc.every_merged;
}

void Executor::collect_garbage_if_due() {
  if (!gc_due() || !m_pool.empty()) return;
  const auto& gc = m_factory.config().gc;
  m_merged_at_gc = m_report.merged;
  // (A failed collection costs disk, not work: said, and the floor goes on.)
  auto report = own_r<GcReport>([&] { return collect_garbage(m_factory, gc.keep_operations); });
  if (!report) {
    note("fab gc (gc.every_merged) failed: " + report.error().message);
    return;
  }
  note(fmt::format("fab gc: kept {} of {} jj operations; .jj and .git {} KB -> {} KB", report->operations_kept,
                   report->operations_before, report->before.bytes / 1024, report->after.bytes / 1024));
}

Status Executor::finish() {
  kill_calls();
  for (auto& [id, f] : m_flights) {
    if (f.job) f.job->join();
  }
  m_flights.clear();
  // fab's last operations in pool workspaces are listed as its own (the ledger sorts them out).
  if (m_ledger.dirty(m_factory.repo())) {
    if (auto fresh = m_ledger.scan(m_factory.repo())) m_foreign.insert(m_foreign.end(), fresh->begin(), fresh->end());
  }
  note_pool_op();
  FAB_TRY(own([&] { return m_pool.forget_all(m_factory.repo().with_cause("fab run: end (forget workspaces)")); }));
  collect_garbage_if_due();
  return {};
}

}  // namespace fab::engine
