#include "engine/pool.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include "workgraph/durable_file.h"

namespace fab::engine {

namespace fs = std::filesystem;

bool is_pool_workspace(const std::string& name) {
  const std::string prefix = "fab-";
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         name.rfind("fab-engineer", 0) != 0;
}

Status write_git_guard(const fs::path& dir) {
  // git follows a `.git` file's "gitdir:" and stops there; jj never records a `.git` entry. The
  // path is the message git prints: "fatal: not a git repository: <path>".
  return write_file_atomic(dir / ".git",
                           "gitdir: /nonexistent/fab-workspace: this jj workspace has no git worktree "
                           "(fab makes one only with git 2.54 or newer)\n");
}

bool WorkspacePool::has_idle() const {
  for (const auto& s : m_slots) {
    if (!s->busy) return true;
  }
  return false;
}

Slot* WorkspacePool::find(const std::string& name) {
  for (auto& s : m_slots) {
    if (s->name == name) return s.get();
  }
  return nullptr;
}

Result<Slot*> WorkspacePool::acquire(const Repo& repo, const ChangeId& change) {
  Slot* pick = nullptr;
  for (auto& s : m_slots) {
    if (!s->busy && s->at == change) pick = s.get();
  }
  for (auto& s : m_slots) {
    if (!pick && !s->busy) pick = s.get();
  }
  if (pick) {
    // Always one `jj edit`, even onto the change it already holds: the change may have been
    // rewritten since (a rebase onto trunk), and the edit brings a stale workspace up to date.
    {
      auto edited = repo.edit_in_workspace(pick->dir, change);
      if (edited) pick->commit = *edited;
      if (!edited) {
        // A workspace that cannot be edited (an agent broke it) is replaced by a fresh one.
        (void)recycle(repo, pick);
        pick = nullptr;
      }
    }
  }
  if (!pick) {
    int n = 1;
    while (true) {
      bool used = false;
      for (auto& s : m_slots) used = used || s->n == n;
      if (!used) break;
      ++n;
    }
    auto slot = std::make_unique<Slot>();
    slot->n = n;
    slot->name = fmt::format("{}{}", kPoolWorkspacePrefix, n);
    slot->home = m_factory.workspaces_dir() / std::to_string(n);
    slot->dir = slot->home / "ws";
    std::error_code ec;
    fs::remove_all(slot->home, ec);
    fs::create_directories(slot->home, ec);
    if (ec) return fail(fmt::format("cannot create '{}': {}", slot->home.string(), ec.message()));
    // (A workspace of this name left by a run that died is forgotten first.)
    (void)repo.forget_workspace(slot->name, {});
    FAB_TRY_ASSIGN(slot->commit, repo.add_workspace(slot->name, slot->dir, change));
    // (A workspace that is a git worktree has git's own `.git` file.)
    if (!repo.workspaces_get_git()) FAB_TRY(write_git_guard(slot->dir));
    m_slots.push_back(std::move(slot));
    pick = m_slots.back().get();
  }
  pick->at = change;
  pick->busy = true;
  return pick;
}

void WorkspacePool::release(Slot* slot) {
  if (slot) slot->busy = false;
}

Status WorkspacePool::recycle(const Repo& repo, Slot* slot) {
  if (!slot) return {};
  auto forgot = repo.forget_workspace(slot->name, slot->home);
  for (auto it = m_slots.begin(); it != m_slots.end(); ++it) {
    if (it->get() == slot) {
      m_slots.erase(it);
      break;
    }
  }
  return forgot;
}

Status WorkspacePool::forget_all(const Repo& repo) {
  if (m_slots.empty()) return {};
  std::vector<std::string> names;
  for (const auto& s : m_slots) names.push_back(s->name);
  FAB_TRY(repo.forget_workspaces(names));
  for (const auto& s : m_slots) {
    std::error_code ec;
    fs::remove_all(s->home, ec);
    if (ec) return fail(fmt::format("cannot remove '{}': {}", s->home.string(), ec.message()));
  }
  m_slots.clear();
  // jj removes the git worktree of a workspace it forgets; one whose directory had gone is left to
  // this. What git cannot remove is said; the next run's recovery or `fab gc` tries again.
  if (auto removed = repo.remove_git_worktrees(m_factory.workspaces_dir()); !removed) {
    spdlog::warn("could not remove the git worktrees of gone workspaces (fab gc tries again): {}", removed.error().render());
  }
  return {};
}

std::vector<std::string> WorkspacePool::strays(const Slot& slot) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(slot.home, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path() == slot.dir) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_directory(ec) || it->is_symlink(ec)) found.push_back(fs::relative(it->path(), slot.home).string());
  }
  return found;
}

void WorkspacePool::remove_strays(const Slot& slot) {
  std::error_code ec;
  for (fs::directory_iterator it(slot.home, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path() != slot.dir) {
      std::error_code rm;
      fs::remove_all(it->path(), rm);
    }
  }
}

}  // namespace fab::engine
