#pragma once
// What an agent made, after its call, is exactly its item's change: whatever it did with jj in its
// workspace (commits, new changes, a squash, an abandon of its own change, a rebase, an operation
// restore, bookmarks created or moved) is folded back into the item's change — the same change ID,
// fab's description and trailers, on the trunk commit it was started on — and everything else it
// touched is put back. What fab cannot keep (work left in commits off the path to the workspace's
// files) fails the attempt, and says what. Every undo is reported for the item's record.
//
// The agent's files are the truth: the workspace's working-copy commit after the snapshot (F) holds
// them. Its contribution is F's tree relative to the trunk commit F was built on; that becomes the
// item's change on its own base (a rebase when the agent had moved it elsewhere).
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/op_ledger.h"
#include "substrate/repo.h"

namespace fab::engine {

struct AgentWorkInput {
  ChangeId change;               // the item's change
  std::string known_commit;      // its commit as fab last made it (before the call)
  std::string base;              // the trunk commit it was started on
  std::string trunk;             // the trunk bookmark's name
  std::string trunk_now;         // where fab has trunk now (TrunkKeeper)
  std::string description;       // fab's description of the change (title and trailers)
  std::string workspace;         // the pool workspace's name (fab-pool-<n>)
  std::filesystem::path workspace_dir;
  std::vector<ForeignOp> ops;    // the operations the item's call made, oldest first
};

struct AgentWork {
  std::vector<std::string> undone;  // one line per thing fab undid or folded
  std::string failure;              // non-empty: the attempt fails for this reason
  bool workspace_moved = false;     // the workspace's working copy was changed by fab (re-edited)
};

using ChangesOf = std::function<Result<OperationChanges>(const std::string& op)>;

// `repo` carries the item's cause; `own` wraps each of fab's mutations (OpLedger bookkeeping).
using Own = std::function<Status(const std::function<Status()>&)>;
Result<AgentWork> fold_agent_work(const Repo& repo, const AgentWorkInput& in, const ChangesOf& changes, const Own& own);

}  // namespace fab::engine
