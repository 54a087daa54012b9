#pragma once
// What the `shell` agent and the `command` inspector share: run the blueprint's `with.command`
// through `sh -c` in the item's workspace, with the item described in FAB_* environment variables.
#include <string>
#include <vector>

#include <fab/plugin.h>

#include "substrate/process.h"

namespace fab::builtin {

struct CommandRun {
  bool ok = false;          // exit status 0
  std::string output;       // stdout and stderr, interleaved as written
  std::string status;       // "exited with status 3", "timed out after 60 s", ...
  // Why no retry can help, when the shell could not run the command at all (exit 127: not found,
  // 126: not executable); empty otherwise. Such a failure is reported with "retry": false.
  std::string permanent;
};

// The `with:` keys both plugins take (their settings schema).
std::vector<fab::Setting> command_settings(const std::string& what);

// Throws std::runtime_error when `with.command` is missing or the command cannot start (the SDK
// turns that into {"ok": false} with the message).
CommandRun run_work_command(const WorkRequest& request);

}  // namespace fab::builtin
