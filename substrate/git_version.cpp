#include "substrate/git_version.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "substrate/process.h"

namespace fab {
namespace {

Result<GitVersion> probe(std::filesystem::path path, bool from_env) {
  GitVersion v;
  v.path = std::move(path);
  v.from_env = from_env;
  v.exec = exec_argv_of(v.path);
  std::vector<std::string> argv = v.exec;
  argv.push_back("--version");
  auto run = run_process({.argv = argv, .timeout = std::chrono::seconds(20)});
  if (!run || !run->ok()) {
    return fail(Error(fmt::format("git at {} does not run", v.path.string()))
                    .caused_by(!run ? run.error().message : run->describe() + " " + run->err)
                    .with_hint(from_env ? "set FAB_GIT to a git that runs, or unset it" : "reinstall git"));
  }
  v.text = run->out.substr(0, run->out.find('\n'));
  // "git version 2.39.5" (some builds add " (Apple Git-143)" or ".windows.1")
  if (std::sscanf(v.text.c_str(), "git version %d.%d.%d", &v.major, &v.minor, &v.patch) < 2) {
    return fail(fmt::format("cannot read git's version from '{}'", v.text), "check `git --version`");
  }
  return v;
}

Result<GitVersion> on_path() {
  auto p = find_on_path("git");
  if (p.empty()) return fail("git was not found on PATH", "install git (Debian/Ubuntu: apt-get install git)");
  return probe(p, false);
}

}  // namespace

std::string GitVersion::short_version() const { return fmt::format("{}.{}", major, minor); }

// Cached per process, but keyed by what decides the answer (FAB_GIT and PATH), so a process that
// changes them (a test, a tool driving several factories) gets the git they name now.
static std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<GitVersion> path_git_version() {
  static std::mutex mu;
  static std::map<std::string, Result<GitVersion>> cached;
  const auto key = env_or_empty("PATH");
  std::lock_guard lock(mu);
  if (auto it = cached.find(key); it != cached.end()) return it->second;
  return cached.emplace(key, on_path()).first->second;
}

Result<GitVersion> git_version() {
  static std::mutex mu;
  static std::map<std::string, Result<GitVersion>> cached;
  const auto env = env_or_empty("FAB_GIT");
  const auto key = env + '\0' + env_or_empty("PATH");
  {
    std::lock_guard lock(mu);
    if (auto it = cached.find(key); it != cached.end()) return it->second;
  }
  std::error_code ec;
  Result<GitVersion> found = fail("no git looked for");
  if (env.empty()) {
    found = path_git_version();
  } else if (!std::filesystem::exists(env, ec)) {
    found = fail(fmt::format("FAB_GIT is set to '{}', which does not exist", env),
                 "set FAB_GIT to a git binary (scripts/bootstrap installs one as .deps/bin/git), or unset it");
  } else {
    found = probe(env, true);
  }
  std::lock_guard lock(mu);
  return cached.emplace(key, std::move(found)).first->second;
}

GitWorktrees git_worktrees() {
  auto git = git_version();
  if (!git) return {false, git.error().message, git.error().hint};
  if (!git->at_least(2, 42)) {
    return {false, fmt::format("git {} is older than 2.42", git->short_version()),
            "a git worktree per workspace needs git >= 2.42 (`jj workspace add --colocate` needs `git worktree add "
            "--orphan`; Debian 12 ships 2.39): scripts/bootstrap installs one as .deps/bin/git; set FAB_GIT to it, "
            "or put it first on PATH"};
  }
  // An agent's git branches, tags and stash live in the user's repository: fab puts them back,
  // which needs the reference-transaction hook set from the environment (config hooks, git 2.54).
  // Without that a worktree would let an agent leave branches in the user's repository.
  if (!git->at_least(2, 54)) {
    return {false,
            fmt::format("git {} is older than 2.54, which fab needs to put back the branches an agent makes in a "
                        "worktree shared with your repository",
                        git->short_version()),
            "scripts/bootstrap installs a newer git as .deps/bin/git; set FAB_GIT to it, or put it first on PATH"};
  }
  if (git->at_least(2, 48) && git->from_env) {
    auto user = path_git_version();
    if (user && !user->at_least(2, 48)) {
      return {false,
              fmt::format("git {} (FAB_GIT) would mark the repository with extensions.relativeWorktrees, which git {} "
                          "on PATH cannot read",
                          git->short_version(), user->short_version()),
              "put the newer git first on PATH too (agents and you then run it), or unset FAB_GIT"};
    }
  }
  return {true, "", ""};
}

bool git_supports_worktrees() { return git_worktrees().yes; }

}  // namespace fab
