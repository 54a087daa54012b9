#pragma once
// Which git this machine has, and what it can do for fab. jj gives each workspace its own git
// worktree (`jj workspace add --colocate`) only with `git worktree add --orphan`, git >= 2.42
// (Debian 12 has 2.39).
#include <filesystem>
#include <string>

#include "substrate/error.h"

namespace fab {

struct GitVersion {
  std::filesystem::path path;  // the git found on PATH
  std::string text;            // "git version 2.39.5"
  int major = 0, minor = 0, patch = 0;
  bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
};

// `git --version` of the git on PATH (checked once per process); an error if there is none or it
// does not run.
Result<GitVersion> git_version();

// git is found and >= 2.42.
bool git_supports_worktrees();

}  // namespace fab
