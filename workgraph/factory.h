#pragma once
// A factory: a jj repo plus its `.factory/` directory (state, journal, workspaces), as made by
// `fab init`. Every command except init starts by opening one.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "substrate/error.h"
#include "substrate/repo.h"
#include "workgraph/store.h"

namespace fab {

// config.json's "gc": {"keep_operations": N, "every_merged": N} (engine/gc.h).
struct GcSettings {
  std::size_t keep_operations = 1000;  // `fab gc` keeps at least the newest N jj operations
  std::size_t every_merged = 0;        // for the floor: run it after every N merged items (0: never)
};

struct FactoryConfig {
  std::string trunk = "main";  // the bookmark merged work lands on, unless a blueprint says otherwise
  // Who fab's commits are by ("user": {"name", "email"} in config.json). Unset: the user's own
  // identity (jj's user.name/user.email, else git's; see user_identity in substrate/jj_runner.h).
  std::optional<JjIdentity> identity;
  // The operations `jj git init` made when `fab init` created the repo: jj records no command for
  // them, so this is how `fab oplog` knows fab caused them.
  std::vector<std::string> init_ops;
  // Where fab keeps what must live outside the user's working tree (so that git or jj run inside
  // an agent's workspace never reach the user's checkout): its own jj workspace (the seat) and the
  // agents' workspaces. Chosen once (default: $XDG_STATE_HOME/fab/<dir name>-<hash>, else
  // ~/.local/state/fab/...) and recorded here.
  std::filesystem::path state_dir;
  std::string seat_name;  // the seat's jj workspace name ("fab-engineer-<token>")
  GcSettings gc;
};

class Factory {
 public:
  // Makes `dir` a factory: opens the jj repo there, or creates one — on the git repository already
  // in `dir` if there is one (its commits and branches become jj's), else non-colocated — creates
  // `.factory/` (ignored by jj and git, so it is never snapshotted into a commit), and the trunk
  // bookmark if it is missing (at the working copy's parent).
  // The trunk is `trunk` when given, else the git repository's current branch, else `main`.
  // On an existing factory (`.jj/` and `.factory/config.json`) it changes nothing, and
  // `*previous_trunk` gets the trunk it had (left empty for a new factory): a `trunk` other than the
  // factory's is refused unless `change_trunk`, which makes it the factory's trunk (creating the
  // bookmark if missing).
  static Result<Factory> init(const std::filesystem::path& dir, const std::optional<std::string>& trunk = std::nullopt,
                              bool change_trunk = false, std::string* previous_trunk = nullptr);
  // The factory containing `from` (walks up). Its repo runs every jj call from the seat, which is
  // created (once) if it is missing.
  static Result<Factory> open(const std::filesystem::path& from);
  // Its directory (the nearest one upward from `from` holding `.factory/` and `.jj/`), without
  // opening it; none outside a factory.
  static std::optional<std::filesystem::path> find_root(const std::filesystem::path& from);

  const Repo& repo() const { return m_repo; }
  Store& store() { return m_store; }
  const Store& store() const { return m_store; }
  const FactoryConfig& config() const { return m_config; }
  const std::filesystem::path& root() const { return m_repo.root(); }
  std::filesystem::path factory_dir() const { return root() / ".factory"; }
  const std::filesystem::path& state_dir() const { return m_config.state_dir; }
  // The agents' workspaces: <state>/pool/<n>/ws (each alone in a directory of its own, so that
  // what an agent writes into `..` is caught instead of landing in another item's workspace).
  std::filesystem::path workspaces_dir() const { return state_dir() / "pool"; }
  // fab's own jj workspace, which every repo-wide jj call runs from (see Repo::at_seat).
  std::filesystem::path seat_dir() const { return state_dir() / "engineer"; }

 private:
  Factory(Repo repo, Store store, FactoryConfig config)
      : m_repo(std::move(repo)), m_store(std::move(store)), m_config(std::move(config)) {}
  Repo m_repo;
  Store m_store;
  FactoryConfig m_config;
};

}  // namespace fab
