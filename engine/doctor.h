#pragma once
// `fab doctor`: what this machine gives fab. jj (found, its version), git (found, its version, and
// whether it is >= 2.54 so each workspace gets a git worktree of its own), bubblewrap (found, and
// able to run a sandbox here), and the plugin search path (each directory exists and is safe to
// load from, each plugin in it is valid). Each check is ok, warn (fab works, with less) or fail
// (something will not work), with a hint for the last two.
#include <string>
#include <vector>

#include "plugins/host/plugin_search.h"

namespace fab::engine {

enum class CheckStatus { ok, warn, fail };
std::string to_string(CheckStatus status);

struct MachineCheck {
  std::string check;   // "jj", "git", "bubblewrap", "plugin dir", "plugin"
  CheckStatus status = CheckStatus::ok;
  std::string detail;  // one line: what was found
  std::string hint;    // what to do (warn and fail)
};

std::vector<MachineCheck> check_machine(const plugins::HostOptions& host);

}  // namespace fab::engine
