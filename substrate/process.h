#pragma once
// The one place in fab that starts child processes. Every other module (the jj runner, the plugin
// host, the built-in plugins) goes through run_process().
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "substrate/error.h"

namespace fab {

struct ProcessSpec {
  std::vector<std::string> argv;                     // argv[0] is a path or a name looked up in PATH
  std::filesystem::path cwd;                         // empty: inherit
  std::map<std::string, std::string> env;            // set (added to / overriding the inherited env)
  std::vector<std::string> env_remove;               // removed from the inherited env
  std::optional<std::string> stdin_data;             // nullopt: stdin is /dev/null
  std::chrono::milliseconds timeout{0};              // 0: no limit
  std::chrono::milliseconds kill_grace{2000};        // SIGTERM, then SIGKILL after this long
  int timeout_signal = 15;                           // SIGTERM; SIGKILL (9) kills at once
  std::size_t output_limit = 64u << 20;              // bytes kept of stdout and of stderr each
  // Sent to the child if this process dies first (prctl PR_SET_PDEATHSIG; 0: none). Linux sends it
  // when the *thread* that started the child ends; run_process returns only after the child has
  // ended, so that is the same thing here. It reaches the direct child only: a child that starts
  // processes of its own (the plugin child) wants SIGTERM, so that its handler can stop them.
  int parent_death_signal = 0;
};

struct ProcessResult {
  int exit_code = -1;   // valid when signal == 0 and !timed_out
  int signal = 0;       // the signal that killed it, 0 if it exited
  bool timed_out = false;
  std::chrono::milliseconds timeout{0};  // the limit it was given (ProcessSpec::timeout)
  std::string out;
  std::string err;
  std::chrono::microseconds duration{0};

  bool ok() const { return !timed_out && signal == 0 && exit_code == 0; }
  // "exited with status 3" / "killed by signal 11 (Segmentation fault)" / "timed out after 600 s"
  // (the configured timeout, not the measured duration, which includes the kill grace)
  std::string describe() const;
};

// Runs a process to completion (or its timeout), capturing stdout and stderr. The child runs in its
// own process group, so a timeout kills whatever it started too. Fails only if the process could
// not be started at all; a non-zero exit is a normal result.
Result<ProcessResult> run_process(const ProcessSpec& spec);

// Where an executable named `name` is on PATH (or empty).
std::filesystem::path find_on_path(const std::string& name);

// Stops every process group started by run_process that is still running, and what runs in them:
// SIGTERM to each group, up to `grace` for the processes started to end (the plugin child uses that
// time to stop what it started in process groups of its own), then SIGKILL to each group. Returns
// as soon as they have all ended, and after `grace` at the latest. Async-signal-safe: the engine
// calls it from its signal handler (a second Ctrl-C), a plugin child from its SIGTERM handler.
inline constexpr std::chrono::milliseconds kStopChildrenGrace{2000};
void kill_all_children(std::chrono::milliseconds grace = kStopChildrenGrace) noexcept;
// The grace a process started by run_process gives its own children when it is stopped (the plugin
// child's SIGTERM handler): shorter, so they are gone before its own SIGKILL comes.
inline constexpr std::chrono::milliseconds kStopGrandchildrenGrace{1000};

}  // namespace fab
