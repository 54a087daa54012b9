#pragma once
// Running a plugin call under bubblewrap (`bwrap`): the blueprint's `sandbox: true` on an agent or
// an inspector. Inside, the whole file system is read-only except the dirs the call may write (its
// workspace) and a private /tmp; the dirs it must not write (the repo, `.factory/`, the other
// workspaces) stay visible, read-only, even when they live under /tmp; it has its own PID namespace
// (nothing it starts outlives it) and a new session (it cannot reach fab's terminal); the network
// is kept (agents need their API).
#include <filesystem>
#include <string>
#include <vector>

#include "substrate/error.h"

namespace fab::plugins {

struct SandboxSpec {
  bool enabled = false;
  std::vector<std::filesystem::path> writable;   // the workspace
  std::vector<std::filesystem::path> read_only;  // the factory root (repo, .factory/), the workspaces' parent
};

// The bwrap binary: $FAB_BWRAP if set (a path; empty or missing: no sandbox), else `bwrap` on PATH;
// empty if there is none.
std::filesystem::path find_bwrap();

// Whether a sandbox can run here: bwrap is found and a trial sandbox (the same options a call uses)
// runs `true`. Checked once per process. The error says why not, with a hint.
Status sandbox_available();

// The argv prefix that runs a command in the sandbox `spec` describes, with `cwd` its working
// directory and `visible` (the fab binary, the plugin) readable even under /tmp.
std::vector<std::string> sandbox_argv(const std::filesystem::path& bwrap, const SandboxSpec& spec,
                                      const std::filesystem::path& cwd,
                                      const std::vector<std::filesystem::path>& visible);

}  // namespace fab::plugins
