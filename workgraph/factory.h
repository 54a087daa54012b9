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
  JjIdentity identity;         // who fab's jj commits are by
  // The operations `jj git init` made when `fab init` created the repo: jj records no command for
  // them, so this is how `fab oplog` knows fab caused them.
  std::vector<std::string> init_ops;
  GcSettings gc;
};

class Factory {
 public:
  // Makes `dir` a factory: opens the jj repo there, or creates one — on the git repository already
  // in `dir` if there is one (its commits and branches become jj's), else non-colocated — creates
  // `.factory/` (ignored by jj and git, so it is never snapshotted into a commit), and the trunk
  // bookmark if it is missing (at the working copy's parent).
  // The trunk is `trunk` when given; otherwise the one the factory already has, or for a new
  // factory the git repository's current branch, or `main`. Running it twice is harmless.
  static Result<Factory> init(const std::filesystem::path& dir, const std::optional<std::string>& trunk = std::nullopt);
  // The factory containing `from` (walks up; a workspace inside the factory finds its factory).
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
  std::filesystem::path workspaces_dir() const { return factory_dir() / "workspaces"; }

 private:
  Factory(Repo repo, Store store, FactoryConfig config)
      : m_repo(std::move(repo)), m_store(std::move(store)), m_config(std::move(config)) {}
  Repo m_repo;
  Store m_store;
  FactoryConfig m_config;
};

}  // namespace fab
