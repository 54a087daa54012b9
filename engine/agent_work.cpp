#include "engine/agent_work.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/jobs.h"

namespace fab::engine {
namespace {

bool restores_operations(const std::string& description) {
  for (const char* p : {"restore to operation", "undo operation", "revert operation", "reverted operation"}) {
    if (description.find(p) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Result<AgentWork> fold_agent_work(const Repo& repo, const AgentWorkInput& in, const ChangesOf& changes, const Own& own) {
  AgentWork out;
  const std::string c = in.change.str();

  // 1. What the call's operations did: the commits they made, the bookmarks they moved, and the
  //    operations that hid or rewrote a commit that was not the call's own (another item's change,
  //    a trunk commit, ...) or restored the repo to another operation: those are reverted.
  std::set<std::string> made;  // commit IDs the call's operations added
  struct Moved {
    std::vector<std::string> original;  // before the call's first move
    std::vector<std::string> last;      // after its last
  };
  std::map<std::string, Moved> bookmarks;
  std::vector<const ForeignOp*> reverts;  // newest first
  std::string last_own = in.known_commit;  // the change's last commit the call's operations replaced
  for (const auto& op : in.ops) {
    FAB_TRY_ASSIGN(auto ch, changes(op.op.id));
    bool revert = restores_operations(op.op.description);
    for (const auto& r : ch.removed) {
      if (r.change_id == in.change) last_own = r.commit_id;
      if (r.change_id == in.change || made.count(r.commit_id)) continue;
      revert = true;
    }
    for (const auto& a : ch.added) {
      if (a.change_id != in.change) made.insert(a.commit_id);
    }
    for (const auto& b : ch.bookmarks) {
      auto [it, fresh] = bookmarks.try_emplace(b.name);
      if (fresh) it->second.original = b.before;
      it->second.last = b.now;
    }
    if (revert) reverts.insert(reverts.begin(), &op);
  }
  for (const ForeignOp* op : reverts) {
    FAB_TRY(own([&] { return repo.revert_operation(op->op.id); }));
    out.undone.push_back(fmt::format("reverted its operation {} (\"{}\"): it changed commits that were not its own",
                                     short_hex(op->op.id), op->op.description));
  }

  // 2. Bookmarks go back where they were; trunk to where fab has it.
  for (const auto& [name, m] : bookmarks) {
    FAB_TRY_ASSIGN(auto read, repo.read_bookmark(name, ""));
    std::vector<std::string> now;
    for (const auto& t : read.targets) now.push_back(t.commit_id);
    std::vector<std::string> want = name == in.trunk ? std::vector<std::string>{in.trunk_now} : m.original;
    if (now == want) continue;
    if (name != in.trunk && now != m.last) {
      out.undone.push_back(fmt::format("left bookmark {} as it is: it moved again after the call moved it", name));
      continue;
    }
    if (want.empty()) {
      FAB_TRY(own([&] { return repo.delete_bookmark(name); }));
      out.undone.push_back(fmt::format("deleted bookmark {}, which the call created", name));
    } else if (want.size() == 1) {
      FAB_TRY(own([&] { return repo.set_bookmark(name, want.front(), true); }));
      out.undone.push_back(fmt::format("moved bookmark {} back to {}{}", name, short_hex(want.front()),
                                       now.empty() ? " (the call had deleted it)" : ""));
    }
  }

  // 3. The workspace's files (F) and the item's change as they are now.
  FAB_TRY_ASSIGN(auto wc, repo.query(fmt::format("present({}@)", in.workspace)));
  if (wc.size() != 1) {
    out.failure = "the agent's workspace has no working copy any more (it forgot its own workspace?)";
    return out;
  }
  const Commit f = wc.front();
  FAB_TRY_ASSIGN(auto copies, repo.query(fmt::format("present(change_id({}))", c)));
  std::string target = last_own;  // a hidden commit named by its ID is made visible by rewriting it
  if (copies.size() == 1) {
    target = copies.front().commit_id;
  } else if (copies.size() > 1) {
    // Divergent: keep the copy the workspace is on (or the one fab made), abandon the others.
    auto keep = std::find_if(copies.begin(), copies.end(), [&](const Commit& x) { return x.commit_id == f.commit_id; });
    if (keep == copies.end()) {
      keep = std::find_if(copies.begin(), copies.end(), [&](const Commit& x) { return x.commit_id == in.known_commit; });
    }
    if (keep == copies.end()) keep = copies.begin();
    target = keep->commit_id;
    std::vector<std::string> others;
    for (const auto& x : copies) {
      if (x.commit_id != target) others.push_back(x.commit_id);
    }
    FAB_TRY(own([&] { return repo.abandon_commits(others); }));
    out.undone.push_back(fmt::format("abandoned {} divergent copy(ies) of its change", others.size()));
  } else {
    if (target.empty()) {
      out.failure = "the item's change is gone from the repo and fab cannot tell which commit to bring back";
      return out;
    }
    // An abandoned commit becomes visible again as a workspace's working copy; the files the agent
    // left (F) are put back into it below.
    FAB_TRY(own([&] { return repo.edit_commit_in_workspace(in.workspace_dir, target).map([](auto&&) {}); }));
    out.undone.push_back("brought back its change, which the call had abandoned");
  }
  // Its description (and fab's trailers) first: this also makes an abandoned change visible again.
  {
    FAB_TRY_ASSIGN(auto now, repo.query(fmt::format("present({})", target)));
    const bool described = !now.empty() && now.front().description == in.description && copies.size() == 1;
    if (!described) {
      FAB_TRY(own([&] { return repo.describe(target, in.description); }));
      if (copies.size() == 1) out.undone.push_back("put back fab's description of its change");
    }
  }
  FAB_TRY_ASSIGN(auto item, repo.commit(in.change));

  if (f.change_id == in.change) {
    // The workspace is on the change; only its place may be wrong (the call rebased it).
    if (item.parents != std::vector<std::string>{in.base}) {
      FAB_TRY(own([&] { return repo.rebase_revision(c, in.base); }));
      out.undone.push_back(fmt::format("moved its change back onto {} (the call had rebased it)", short_hex(in.base)));
    }
  } else {
    // The commits under the files that are neither trunk's nor a fab change came from no jj
    // operation of the call: git made them in the workspace's worktree (`git commit`, which jj
    // took in as the workspace's new parent). They are the call's too: folded below.
    FAB_TRY_ASSIGN(auto under, repo.query(fmt::format("::{} ~ ::{} ~ change_id({}) ~ description(substring:\"fab-item: \")",
                                                      f.commit_id, in.trunk_now, c)));
    // (The files' own commit among them, unless it is trunk's or another change of fab's.)
    std::size_t by_git = 0;
    for (const auto& u : under) {
      if (made.insert(u.commit_id).second && u.commit_id != f.commit_id) ++by_git;
    }
    if (by_git > 0) out.undone.push_back(fmt::format("took the {} commit(s) it made with git into its change", by_git));
    // The files are in another commit: they become the change's tree, relative to the trunk commit
    // they were built on, and the change goes back onto its base.
    FAB_TRY_ASSIGN(auto bases, repo.query(fmt::format("heads(::{} & ::{})", f.commit_id, in.trunk_now)));
    const std::string built_on = bases.size() == 1 ? bases.front().commit_id : in.base;
    if (item.parents != std::vector<std::string>{built_on}) FAB_TRY(own([&] { return repo.rebase_revision(c, built_on); }));
    FAB_TRY(own([&] { return repo.restore_into(f.commit_id, c); }));
    if (built_on != in.base) FAB_TRY(own([&] { return repo.rebase_revision(c, in.base); }));
    out.undone.push_back(fmt::format("took its files from commit {} into its change (the call had left the change)",
                                     short_hex(f.commit_id)));
    out.workspace_moved = true;
  }

  // 4. What else the call made goes: folded (an ancestor of the files) or, holding work fab cannot
  //    keep, abandoned and reported.
  std::vector<std::string> made_ids(made.begin(), made.end());
  if (!out.workspace_moved) made_ids.erase(std::remove(made_ids.begin(), made_ids.end(), f.commit_id), made_ids.end());
  if (!made_ids.empty()) {
    // (Only the visible ones: a commit the call rewrote again later is hidden already.)
    FAB_TRY_ASSIGN(auto left, repo.query(fmt::format("(({}) & ::visible_heads()) ~ change_id({}) ~ ::{}",
                                                     present_union(made_ids), c, in.trunk_now)));
    std::vector<std::string> folded, lost;
    std::string lost_list;
    for (const auto& l : left) {
      FAB_TRY_ASSIGN(auto in_files, repo.query(fmt::format("{} & ::{}", l.commit_id, f.commit_id)));
      if (!in_files.empty() || l.empty) {
        folded.push_back(l.commit_id);
      } else {
        lost.push_back(l.commit_id);
        lost_list += fmt::format("  {} {}\n", short_hex(l.commit_id), l.description.substr(0, l.description.find('\n')));
      }
    }
    std::vector<std::string> all = folded;
    all.insert(all.end(), lost.begin(), lost.end());
    if (!all.empty()) FAB_TRY(own([&] { return repo.abandon_commits(all); }));
    if (!folded.empty()) out.undone.push_back(fmt::format("folded {} commit(s) the call made into its change", folded.size()));
    if (!lost.empty()) {
      out.failure = "the agent left work in commits that are not in its workspace's files, which fab cannot keep "
                    "in the item's change (they were abandoned; `jj evolog` still shows them):\n" + lost_list;
    }
  }
  return out;
}

}  // namespace fab::engine
