#pragma once
// The run's jj workspaces for agents and inspectors, outside the user's tree (Factory::
// workspaces_dir()): slot n is the workspace `fab-pool-<n>` in <pool>/<n>/ws, alone in <pool>/<n>/
// so that anything an agent writes into `..` is caught (strays()) instead of landing in another
// item's workspace. A workspace is handed from item to item with one `jj edit`; one that held an
// attempt gone wrong is recycled (forgotten and removed) instead. In a colocated repo whose git
// allows it (Repo::workspaces_get_git(): git >= 2.54), each workspace is a git worktree of the
// user's repository, so git works inside it; without one, each holds a `.git` file pointing
// nowhere, so git run inside says "not a git repository" instead of finding a repository above
// it. All are forgotten (with their worktrees) when the run ends or has nothing in flight.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "substrate/error.h"
#include "substrate/repo.h"
#include "workgraph/factory.h"

namespace fab::engine {

inline constexpr const char* kPoolWorkspacePrefix = "fab-pool-";

struct Slot {
  int n = 0;
  std::string name;          // fab-pool-<n>
  std::filesystem::path home;  // <pool>/<n>: holds only ws/
  std::filesystem::path dir;   // <pool>/<n>/ws: the workspace
  std::optional<ChangeId> at;  // its working-copy change, as fab left it
  std::string commit;          // ... and its commit after fab's last edit there (empty: not known)
  bool busy = false;
};

class WorkspacePool {
 public:
  explicit WorkspacePool(const Factory& factory) : m_factory(factory) {}

  // A workspace whose working copy is `change` (an idle one already there; else any idle one, with
  // one `jj edit`, which snapshots what it held; else a new one). `repo` carries the cause.
  Result<Slot*> acquire(const Repo& repo, const ChangeId& change);
  // Back to the pool (no jj call).
  void release(Slot* slot);
  // Forgets the workspace and removes its directory: it is not reused.
  Status recycle(const Repo& repo, Slot* slot);
  // Forgets every workspace of the pool (one jj call) and removes their directories.
  Status forget_all(const Repo& repo);
  bool empty() const { return m_slots.empty(); }
  bool has_idle() const;
  Slot* find(const std::string& name);

  // What an agent wrote next to its workspace (in the slot's home, outside ws/), relative paths.
  static std::vector<std::string> strays(const Slot& slot);
  // Removes them.
  static void remove_strays(const Slot& slot);

 private:
  const Factory& m_factory;
  std::vector<std::unique_ptr<Slot>> m_slots;
};

// True for the names fab gives its pool workspaces (and older fab-<item> ones).
bool is_pool_workspace(const std::string& name);
// Writes the `.git` file that makes git say "not a git repository" in `dir`.
Status write_git_guard(const std::filesystem::path& dir);

}  // namespace fab::engine
