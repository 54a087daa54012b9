#pragma once
// Trunk is fab's to move and the user's to use; this is the one place that decides where it is.
// For each trunk bookmark fab keeps the commit it last saw or set (persisted in
// .factory/trunks.json, so a move between runs is noticed too) and moves it only by
// compare-and-swap from there (Repo::move_bookmark_from). When someone else moved it:
//   - forward (a user's commit on top, by git or jj): that is the new base; items land on top of it
//     (and are inspected again when their line has inspectors);
//   - backwards, sideways, deleted: landing on it stops ("halted"), with the reason, until
//     `fab recover --accept-trunk` says to continue from where it is now;
//   - by an agent's or inspector's call (its workspace's operation): put back, and the item's
//     record says so.
// In a repo colocated with the user's git, git's refs are imported before trunk is read (when git's
// branch moved) and exported after fab moves it; an export git refused (the user committed
// meanwhile) leaves jj's bookmark conflicted: with the user's commit on top of where fab moved
// from, fab's move is taken back and the items land on the user's commit, inspected again. A
// conflicted bookmark found later (fab's commits that git never got on one side, the user's on the
// other) is settled the same way when each of fab's commits there is a merged item's change: trunk
// goes to the user's commit and those items back to the queue, to land on it again, inspected and
// refined as any landing (relanded()); otherwise fab's commits go on top of the user's, or, when
// they conflict with it, the trunk halts with the reason.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/op_ledger.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct TrunkState {
  std::string seen;      // the commit fab last saw or set; empty: not read yet
  bool halted = false;
  std::string why;
};

// An item that was merged on a trunk and is queued again: git never got its commit, and the user
// committed on the trunk meanwhile (repair_conflicted).
struct Relanded {
  std::string line, item, why;
};

// Something fab put back that an item's call had done (for that item's record).
struct Undone {
  std::string item;
  std::string what;  // "moved bookmark main back from 1a2b3c4d to 5e6f7a8b (the call had moved it)"
};

// The trunks the last run or `fab recover` found halted (.factory/trunks.json), each with why.
std::map<std::string, std::string> halted_trunks(const Factory& factory);

class TrunkKeeper {
 public:
  TrunkKeeper(Factory& factory, OpLedger& ledger) : m_factory(factory), m_ledger(ledger) {}

  // Reads .factory/trunks.json (what fab last set) for `trunk` and compares it with the repo: the
  // starting point of a run or of `fab recover`.
  Result<TrunkState> start(const std::string& trunk);
  // Brings `trunk` up to date after the operations `foreign` (ledger.scan()) that fab did not make:
  // git's refs first (colocated), then the bookmark; see the header comment. `changes` returns the
  // changes of an operation (cached by the caller, shared with the agents' reconciliation).
  using ChangesOf = std::function<Result<OperationChanges>(const std::string& op)>;
  Result<TrunkState> refresh(const std::string& trunk, const std::vector<ForeignOp>& foreign, const ChangesOf& changes,
                             std::vector<Undone>& undone);
  // Moves `trunk` from where fab saw it to `to` (a commit ID), then exports it (colocated). False
  // when it was no longer there (nothing moved: refresh, then decide again) — in jj, or in git: a
  // user's commit on git's branch found before the move, or by the export (then fab's move is taken
  // back and the user's commit is the new base).
  Result<bool> move(const std::string& trunk, const std::string& to, const Repo& repo);
  // Makes the next refresh read the bookmark (a compare-and-swap found it elsewhere).
  void mark_dirty(const std::string& trunk) { m_dirty.insert(trunk); }
  // The items a repair since the last call put back to the queue (the store has them queued; the
  // caller's copies of their lines are stale).
  std::vector<Relanded> take_relanded() { return std::exchange(m_relanded, {}); }
  // Takes the bookmark where it is now as fab's (the user said so: `fab recover --accept-trunk`).
  Result<TrunkState> accept(const std::string& trunk);

  const TrunkState& state(const std::string& trunk) { return m_trunks[trunk]; }
  const TrunkState* find_state(const std::string& trunk) const {
    auto it = m_trunks.find(trunk);
    return it == m_trunks.end() ? nullptr : &it->second;
  }

  // Which item's running call moved git's `ref` to `value` (its worktree's git recorded it), if
  // one did: refresh then puts git's branch back rather than taking the move as a user's commit.
  using GitMover = std::function<std::optional<std::string>(const std::string& ref, const std::string& value)>;
  void set_git_mover(GitMover mover) { m_git_mover = std::move(mover); }

 private:
  Status save(const std::string& trunk);
  Result<TrunkState> classify(const std::string& trunk, const std::vector<ForeignOp>& foreign,
                              const ChangesOf& changes, std::vector<Undone>& undone);
  Status repair_conflicted(const std::string& trunk, const std::vector<Commit>& targets);
  Result<std::vector<Relanded>> merged_items_holding(const std::string& trunk, const std::vector<Commit>& commits) const;

  Factory& m_factory;
  OpLedger& m_ledger;
  std::map<std::string, TrunkState> m_trunks;
  std::map<std::string, std::string> m_git_seen;
  // Why repair_conflicted left a trunk conflicted (fab's commits conflict with the user's).
  std::map<std::string, std::string> m_unsettled;
  std::vector<Relanded> m_relanded;
  std::set<std::string> m_dirty;  // git's branch commit fab last imported or exported
  GitMover m_git_mover;
};

}  // namespace fab::engine
