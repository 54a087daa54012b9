#include "engine/trunk.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/jobs.h"
#include <nlohmann/json.hpp>

#include "workgraph/durable_file.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

fs::path trunks_file(const Factory& factory) { return factory.factory_dir() / "trunks.json"; }

nlohmann::json read_trunks(const Factory& factory) {
  auto text = read_file_text(trunks_file(factory));
  if (!text) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

}  // namespace

std::map<std::string, std::string> halted_trunks(const Factory& factory) {
  std::map<std::string, std::string> out;
  const auto trunks = read_trunks(factory);
  for (const auto& [trunk, v] : trunks.items()) {
    if (v.is_object() && v.contains("halted") && v["halted"].is_string()) out[trunk] = v["halted"].get<std::string>();
  }
  return out;
}

Status TrunkKeeper::save(const std::string& trunk) {
  auto j = read_trunks(m_factory);
  const auto& state = m_trunks[trunk];
  nlohmann::json entry{{"commit", state.seen}};
  // Why landing on it stopped, for `fab status` and `fab recover` (until a run finds it usable or
  // `fab recover --accept-trunk` takes it as it is).
  if (state.halted) entry["halted"] = state.why;
  if (j.contains(trunk) && j[trunk] == entry) return {};
  j[trunk] = std::move(entry);
  return write_file_atomic(trunks_file(m_factory), j.dump(2) + "\n");
}

Result<TrunkState> TrunkKeeper::start(const std::string& trunk) {
  const Repo& repo = m_factory.repo();
  if (repo.colocated()) {
    FAB_TRY(as_own(m_ledger, repo, [&] { return repo.with_cause("fab: import git refs").git_import(); }));
    m_git_seen[trunk] = repo.git_branch_commit(trunk).value_or("");
  }
  auto& state = m_trunks[trunk];
  const auto recorded = read_trunks(m_factory).value(trunk, nlohmann::json::object()).value("commit", std::string{});
  state = TrunkState{recorded, false, ""};
  std::vector<Undone> none;
  FAB_TRY_ASSIGN(auto read, repo.read_bookmark(trunk, recorded));
  if (read.targets.size() > 1) {
    FAB_TRY(repair_conflicted(trunk, read.targets));
    FAB_TRY_ASSIGN(read, repo.read_bookmark(trunk, state.seen));
  }
  if (read.targets.empty()) {
    state.halted = true;
    state.why = fmt::format("the trunk bookmark '{}' does not exist", trunk);
  } else if (read.targets.size() > 1) {
    state.halted = true;
    state.why = fmt::format("the trunk bookmark '{}' is conflicted", trunk);
    if (auto u = m_unsettled.find(trunk); u != m_unsettled.end()) state.why += ": " + u->second;
  } else if (recorded.empty() || read.targets.front().commit_id == recorded || read.descends_from_seen) {
    state.seen = read.targets.front().commit_id;
  } else {
    state.halted = true;
    state.why = fmt::format("'{}' moved {} since fab last landed on it (from {} to {})", trunk,
                            read.ancestor_of_seen ? "backwards" : "sideways", short_hex(recorded),
                            short_hex(read.targets.front().commit_id));
  }
  FAB_TRY(save(trunk));
  return state;
}

Result<TrunkState> TrunkKeeper::accept(const std::string& trunk) {
  FAB_TRY_ASSIGN(auto read, m_factory.repo().read_bookmark(trunk, ""));
  if (read.targets.size() != 1) {
    return fail(fmt::format("the trunk bookmark '{}' {}", trunk, read.targets.empty() ? "does not exist" : "is conflicted"),
                fmt::format("point it at one commit first: `jj bookmark set {} -r <revision>`", trunk));
  }
  m_trunks[trunk] = TrunkState{read.targets.front().commit_id, false, ""};
  FAB_TRY(save(trunk));
  return m_trunks[trunk];
}

Result<TrunkState> TrunkKeeper::refresh(const std::string& trunk, const std::vector<ForeignOp>& foreign,
                                        const ChangesOf& changes, std::vector<Undone>& undone) {
  auto& state = m_trunks[trunk];
  if (state.seen.empty() && !state.halted) {
    FAB_TRY(start(trunk));
    return state;
  }
  const Repo& repo = m_factory.repo();
  bool read = !foreign.empty() || m_dirty.erase(trunk) > 0;
  if (repo.colocated()) {
    const auto git = repo.git_branch_commit(trunk).value_or("");
    if (git != m_git_seen[trunk] && git != state.seen && !git.empty() && m_git_mover) {
      // An agent's or inspector's git in its worktree (`git update-ref refs/heads/main HEAD`): back
      // where fab saw it, before jj ever takes it in.
      if (auto item = m_git_mover("refs/heads/" + trunk, git)) {
        FAB_TRY_ASSIGN(bool back, repo.git_move_branch_from(trunk, git, state.seen));
        if (back) {
          undone.push_back({*item, fmt::format("moved git's trunk branch {} back to {} (the call had moved it to {})",
                                               trunk, short_hex(state.seen), short_hex(git))});
          m_git_seen[trunk] = state.seen;
          return read ? classify(trunk, foreign, changes, undone) : Result<TrunkState>(state);
        }
        m_dirty.insert(trunk);  // it moved again meanwhile: the next look decides
        return state;
      }
    }
    if (git != m_git_seen[trunk] && git != state.seen) {
      FAB_TRY(as_own(m_ledger, repo, [&] { return repo.with_cause("fab: import git refs").git_import(); }));
      read = true;
    }
    m_git_seen[trunk] = git;
  }
  if (!read) return state;
  return classify(trunk, foreign, changes, undone);
}

Result<TrunkState> TrunkKeeper::classify(const std::string& trunk, const std::vector<ForeignOp>& foreign,
                                         const ChangesOf& changes, std::vector<Undone>& undone) {
  auto& state = m_trunks[trunk];
  const Repo& repo = m_factory.repo();
  FAB_TRY_ASSIGN(auto read, repo.read_bookmark(trunk, state.seen));
  if (read.targets.size() > 1) {
    FAB_TRY(repair_conflicted(trunk, read.targets));
    FAB_TRY_ASSIGN(read, repo.read_bookmark(trunk, state.seen));
  }
  const std::string now = read.targets.size() == 1 ? read.targets.front().commit_id : std::string{};
  if (now == state.seen) return state;
  // Did a call of an item move it? Then it goes back, whichever way it went.
  for (const auto& f : foreign) {
    if (f.item.empty()) continue;
    FAB_TRY_ASSIGN(auto ch, changes(f.op.id));
    const bool moved = std::any_of(ch.bookmarks.begin(), ch.bookmarks.end(), [&](const auto& b) { return b.name == trunk; });
    if (!moved) continue;
    Repo r = repo.with_cause(fmt::format("fab: put {} back (moved by the call of {})", trunk, f.item));
    if (now.empty()) {
      FAB_TRY(as_own(m_ledger, repo, [&] { return r.set_bookmark(trunk, state.seen, true); }));
    } else {
      FAB_TRY_ASSIGN(bool back, as_own(m_ledger, repo, [&] { return r.move_bookmark_from(trunk, now, state.seen, true); }));
      if (!back) return classify(trunk, {}, changes, undone);
    }
    if (repo.colocated()) FAB_TRY(as_own(m_ledger, repo, [&] { return r.git_export(); }));
    undone.push_back({f.item, fmt::format("moved the trunk bookmark {} back to {} (the call had moved it{})", trunk,
                                          short_hex(state.seen), now.empty() ? " away" : " to " + short_hex(now))});
    return state;
  }
  if (read.targets.empty()) {
    state.halted = true;
    state.why = fmt::format("the trunk bookmark '{}' was deleted behind fab's back", trunk);
  } else if (read.targets.size() > 1) {
    state.halted = true;
    state.why = fmt::format("the trunk bookmark '{}' is conflicted", trunk);
    if (auto u = m_unsettled.find(trunk); u != m_unsettled.end()) state.why += ": " + u->second;
  } else if (read.descends_from_seen) {
    state.seen = now;  // someone committed on top: the new base
    state.halted = false;
  } else {
    state.halted = true;
    state.why = fmt::format("'{}' was moved {} behind fab's back (from {} to {})", trunk,
                            read.ancestor_of_seen ? "backwards" : "sideways", short_hex(state.seen), short_hex(now));
  }
  FAB_TRY(save(trunk));
  return state;
}

Result<bool> TrunkKeeper::move(const std::string& trunk, const std::string& to, const Repo& repo) {
  auto& state = m_trunks[trunk];
  const std::string from = state.seen;
  // The compare-and-swap holds for git's side too: git's branch moved since the last look (the user
  // committed) is seen before anything moves; the next look imports it and decides.
  if (repo.colocated()) {
    const auto git = repo.git_branch_commit(trunk).value_or("");
    if (git != m_git_seen[trunk] && git != from) {
      m_dirty.insert(trunk);
      return false;
    }
  }
  FAB_TRY_ASSIGN(bool moved, as_own(m_ledger, repo, [&] { return repo.move_bookmark_from(trunk, from, to); }));
  if (!moved) {
    m_dirty.insert(trunk);
    return false;
  }
  // Trunk moved: from here on nothing may say it did not (the caller would treat an item trunk
  // holds as not landed, and land it again). What fails after it (a full disk) is said and retried.
  state.seen = to;
  if (auto saved = save(trunk); !saved) {
    spdlog::warn("{} moved, but fab could not record it in trunks.json: {}", trunk, saved.error().message);
  }
  if (!repo.colocated()) return true;
  auto exported = as_own(m_ledger, repo, [&] { return repo.git_export(); });
  if (!exported) {
    spdlog::warn("{} moved in jj, but exporting it to git failed (the next move exports it): {}", trunk,
                 exported.error().message);
    return true;
  }
  const auto& failed = *exported;
  const bool refused = std::find(failed.begin(), failed.end(), trunk) != failed.end();
  const auto git_now = repo.git_branch_commit(trunk).value_or("");
  if (!refused && git_now == to) {
    m_git_seen[trunk] = to;
    return true;
  }
  // git did not take the branch (its ref locked by a git that runs or died, a name git cannot
  // hold; jj warns once, in the move, and its export after says "Nothing changed") and nobody
  // moved it: git is behind, not ahead. (Taking the move back for it, as for a user's commit
  // below, made the landing try again forever.)
  if (!git_now.empty() && (git_now == from || git_now == m_git_seen[trunk])) {
    spdlog::warn("{} moved to {} in jj, but git refused to take it: git's {} stays at {} until an export works "
                 "(every later jj command tries again)",
                 trunk, short_hex(to), trunk, short_hex(git_now));
    return true;
  }
  // git's branch moved between that look and the export (the user committed right then): what git
  // has comes in, and jj's bookmark is conflicted (fab's commit and the user's). A user's commit on
  // top of where fab moved from is the new base, as after any compare-and-swap that found trunk
  // moved: fab takes its move back (trunk at the user's commit, in jj and in git) and says it did
  // not move, so the items land on top of the user's commit, inspected again on it.
  FAB_TRY(as_own(m_ledger, repo, [&] { return repo.with_cause("fab: import git refs").git_import(); }));
  const auto git = repo.git_branch_commit(trunk).value_or("");
  if (!git.empty() && git != to && !from.empty()) {
    FAB_TRY_ASSIGN(auto on_top, repo.query(fmt::format("{} & {}::", git, from)));
    if (!on_top.empty()) {
      Repo r = repo.with_cause(fmt::format("fab: take back its move of {} (the user committed {} on {} meanwhile)", trunk,
                                           short_hex(git), short_hex(from)));
      FAB_TRY(as_own(m_ledger, repo, [&] { return r.set_bookmark(trunk, git, true); }));
      state.seen = git;
      FAB_TRY(save(trunk));
      m_dirty.insert(trunk);
      // (Refused again, the user committed once more: the next look imports that.)
      FAB_TRY_ASSIGN(auto again, as_own(m_ledger, repo, [&] { return r.git_export(); }));
      if (std::find(again.begin(), again.end(), trunk) == again.end()) m_git_seen[trunk] = git;
      return false;
    }
  }
  // Otherwise fab's commits go on top of the user's.
  FAB_TRY_ASSIGN(auto read, repo.read_bookmark(trunk, state.seen));
  if (read.targets.size() > 1) FAB_TRY(repair_conflicted(trunk, read.targets));
  return true;
}

// The merged items of the lines on `trunk` whose changes are among `commits`.
Result<std::vector<Relanded>> TrunkKeeper::merged_items_holding(const std::string& trunk,
                                                                const std::vector<Commit>& commits) const {
  std::vector<Relanded> out;
  if (commits.empty()) return out;
  std::set<std::string> changes;
  for (const auto& c : commits) changes.insert(c.change_id.str());
  FAB_TRY_ASSIGN(auto lines, m_factory.store().lines());
  for (const auto& line : lines) {
    if (line.trunk != trunk) continue;
    FAB_TRY_ASSIGN(auto record, m_factory.store().load_line(line.id));
    for (const auto& item : record.items) {
      if (item.state == ItemState::merged && item.change && changes.count(item.change->str())) {
        out.push_back({line.id, item.id, {}});
      }
    }
  }
  return out;
}

Status TrunkKeeper::repair_conflicted(const std::string& trunk, const std::vector<Commit>& targets) {
  auto& state = m_trunks[trunk];
  const Repo& repo = m_factory.repo();
  const Commit* ours = nullptr;
  std::vector<const Commit*> theirs;
  for (const auto& t : targets) {
    if (t.commit_id == state.seen) {
      ours = &t;
    } else {
      theirs.push_back(&t);
    }
  }
  if (!ours || theirs.size() != 1) return {};  // not the race fab knows how to settle: reported as conflicted
  const Commit& user = *theirs.front();
  const auto cause = fmt::format("fab: settle conflicted {} (fab's commits onto the user's {})", trunk, short_hex(user.commit_id));
  Repo r = repo.with_cause(cause);
  // fab's commits that git never got: those of trunk (fab's side) that the user's side lacks.
  const auto ours_only = fmt::format("::{} ~ ::{}", ours->commit_id, user.commit_id);
  FAB_TRY_ASSIGN(auto mine, repo.query(ours_only));
  std::string target = user.commit_id;
  // Each of them a merged item's change (fab landed them; git never got them): trunk goes to the
  // user's commit, and they go back to the queue to land on it again, inspected and refined as any
  // landing. (Putting them on top of the user's commit would land a combination no inspector saw.)
  FAB_TRY_ASSIGN(auto owners, merged_items_holding(trunk, mine));
  if (!mine.empty() && owners.size() == mine.size()) {
    FAB_TRY_ASSIGN(auto op, repo.current_operation());
    const auto why = fmt::format("recovered: git never got its commit on {} (the export was refused), and the user "
                                 "committed {} there meanwhile; it lands again on top of it",
                                 trunk, short_hex(user.commit_id));
    for (const auto& o : owners) {
      FAB_TRY(m_factory.store().rollback(o.item, why, {{"op", op}}));
      m_relanded.push_back({o.line, o.item, why.substr(11)});
    }
    mine.clear();
  }
  if (!mine.empty()) {
    FAB_TRY_ASSIGN(auto before, repo.current_operation());
    FAB_TRY(as_own(m_ledger, repo, [&] { return r.rebase_source(fmt::format("roots({})", ours_only), user.commit_id); }));
    FAB_TRY_ASSIGN(auto moved, repo.commit(ours->change_id));
    // fab's commits on the user's may conflict with it: trunk never holds a conflict. The rebase
    // is taken back (only that operation: agents may be working), and the trunk stays conflicted,
    // reported, for the user to settle.
    FAB_TRY_ASSIGN(auto conflicted, repo.query(fmt::format("({}::{}) & conflicts()", user.commit_id, moved.commit_id)));
    if (!conflicted.empty()) {
      FAB_TRY_ASSIGN(auto since, repo.operations_since(before));
      for (const auto& op : since) {
        if (op.cause == cause) FAB_TRY(as_own(m_ledger, repo, [&] { return r.revert_operation(op.id); }));
      }
      m_unsettled[trunk] = fmt::format(
          "fab's {} commit(s) that git never got conflict with the user's {} (in {}); settle it by hand: rebase them "
          "onto it, resolve, and `jj bookmark set {}` to the result, then `fab recover`",
          mine.size(), short_hex(user.commit_id), conflicted.front().change_id.short_id(), trunk);
      return {};
    }
    target = moved.commit_id;
  }
  FAB_TRY(as_own(m_ledger, repo, [&] { return r.set_bookmark(trunk, target, true); }));
  FAB_TRY_ASSIGN(auto failed, as_own(m_ledger, repo, [&] { return r.git_export(); }));
  if (std::find(failed.begin(), failed.end(), trunk) != failed.end()) {
    return fail(fmt::format("cannot export {} to git after settling it", trunk), "run `jj git export` and look at what it says");
  }
  state.seen = target;
  m_git_seen[trunk] = target;
  return save(trunk);
}

}  // namespace fab::engine
