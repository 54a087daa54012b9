#pragma once
// A fresh jj repo in a temporary directory, driven by the real jj the bootstrap installed.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>

#include "substrate/process.h"
#include "substrate/repo.h"
#include "tests/support/catch_fab.h"
#include "tests/support/temp_dir.h"

namespace fab::test {

inline Repo make_repo(const TempDir& dir, const std::string& name = "repo") {
  auto jj = JjRunner::with_binary(jj_for_tests());
  REQUIRE(jj);
  auto repo = Repo::init(dir / name, *jj);
  REQUIRE(repo);
  return *repo;
}

// A repo colocated with git (`jj git init --colocate`) in dir/co.
inline Repo make_colocated_repo(const TempDir& dir) {
  auto jj = JjRunner::with_binary(jj_for_tests());
  REQUIRE(jj);
  auto init = jj->run({"git", "init", "--colocate", (dir / "co").string()}, {.snapshot = true});
  INFO((init ? std::string{} : init.error().render()));
  REQUIRE(init);
  auto repo = Repo::open(dir / "co", *jj);
  REQUIRE(repo);
  return *repo;
}

// Writes files into the default workspace and commits them; returns the committed change.
inline ChangeId commit_files(const Repo& repo, const std::map<std::string, std::string>& files, const std::string& msg) {
  for (const auto& [path, content] : files) write_file(repo.root() / path, content);
  auto r = repo.run({"commit", "-m", msg}, {.snapshot = true});
  REQUIRE(r);
  auto c = repo.query("@-");
  REQUIRE(c);
  REQUIRE(c->size() == 1);
  return c->front().change_id;
}

// Sets FAB_BATCH (how Repo::create_changes writes commits) for its lifetime; "" unsets it.
class BatchMethod {
 public:
  explicit BatchMethod(const std::string& method) {
    if (const char* old = std::getenv("FAB_BATCH")) m_old = old;
    if (method.empty()) {
      ::unsetenv("FAB_BATCH");
    } else {
      ::setenv("FAB_BATCH", method.c_str(), 1);
    }
  }
  ~BatchMethod() {
    if (m_old) {
      ::setenv("FAB_BATCH", m_old->c_str(), 1);
    } else {
      ::unsetenv("FAB_BATCH");
    }
  }
  BatchMethod(const BatchMethod&) = delete;
  BatchMethod& operator=(const BatchMethod&) = delete;

 private:
  std::optional<std::string> m_old;
};

// The git repo behind a (non-colocated) repo made by make_repo.
inline std::filesystem::path git_dir_of(const Repo& repo) { return repo.root() / ".jj" / "repo" / "store" / "git"; }

// Runs git on that git dir; returns its stdout (the test fails if git does).
inline std::string git(const std::filesystem::path& git_dir, std::vector<std::string> args,
                       std::optional<std::string> stdin_data = std::nullopt) {
  args.insert(args.begin(), {"git", "--git-dir=" + git_dir.string()});
  auto r = run_process({.argv = args,
                        .env = {{"GIT_AUTHOR_NAME", "test"}, {"GIT_AUTHOR_EMAIL", "test@localhost"},
                                {"GIT_COMMITTER_NAME", "test"}, {"GIT_COMMITTER_EMAIL", "test@localhost"}},
                        .stdin_data = std::move(stdin_data)});
  REQUIRE(r);
  INFO(r->err);
  REQUIRE(r->ok());
  return r->out;
}

// What create_changes' fast path might leave behind: fab-import bookmarks (local or remote, as
// `jj bookmark list --all-remotes` shows them) and refs/heads/fab-import/ refs. Empty if nothing.
inline std::string import_leftovers(const Repo& repo, std::optional<std::filesystem::path> git_dir = std::nullopt) {
  auto listed = repo.run({"bookmark", "list", "--all-remotes"});
  REQUIRE(listed);
  std::string left;
  if (listed->out.find("fab-import") != std::string::npos) left += listed->out;
  left += git(git_dir ? *git_dir : git_dir_of(repo), {"for-each-ref", "refs/heads/fab-import/"});
  return left;
}

// Whether the newest `count` operations include a `jj git import` (create_changes' fast path).
inline bool uses_import(const std::vector<Operation>& ops, std::size_t count) {
  for (std::size_t i = 0; i < count && i < ops.size(); ++i) {
    if (ops[i].description.find("import git refs") != std::string::npos) return true;
  }
  return false;
}

}  // namespace fab::test
