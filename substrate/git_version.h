#pragma once
// Which git fab and jj run, and what it can do for fab. jj gives each workspace its own git
// worktree (`jj workspace add --colocate`) only with `git worktree add --orphan`, git >= 2.42, and
// fab asks for one only with git >= 2.54, which can put back an agent's branches (Debian 12 has 2.39). The git is FAB_GIT (a git binary, or scripts/bootstrap's wrapper
// .deps/bin/git, run through its `# fab-exec:` line), else the one on PATH; fab hands the same one
// to jj (`git.executable-path`) for the calls that make or remove a worktree.
#include <filesystem>
#include <string>
#include <vector>

#include "substrate/error.h"

namespace fab {

struct GitVersion {
  std::filesystem::path path;     // the git found
  std::vector<std::string> exec;  // what runs it: path, or its wrapper's `# fab-exec:` argv
  bool from_env = false;          // named by FAB_GIT
  std::string text;               // "git version 2.39.5"
  int major = 0, minor = 0, patch = 0;
  bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
  std::string short_version() const;  // "2.39"
};

// The git fab runs and hands to jj: FAB_GIT, else git on PATH (`git --version` checked once per
// process); an error if there is none or it does not run.
Result<GitVersion> git_version();
// The git on PATH: the one the user and the agents run (the same as git_version() without FAB_GIT).
Result<GitVersion> path_git_version();

// Whether a workspace of a colocated repo gets its own git worktree, and why not.
struct GitWorktrees {
  bool yes = false;
  std::string why_not;  // "git 2.39 is older than 2.42", ...
  std::string hint;
};
// Yes when fab's git is >= 2.54 (jj's `--colocate` needs 2.42's `git worktree add --orphan`; putting
// back the branches an agent makes needs 2.54's hooks set from the environment) and, if it is >= 2.48 (which records the worktrees by relative
// paths and marks the repository with `extensions.relativeWorktrees`, which git < 2.48 refuses to
// read), the git on PATH is >= 2.48 too: a worktree must never make the user's own git fail.
GitWorktrees git_worktrees();
bool git_supports_worktrees();

}  // namespace fab
