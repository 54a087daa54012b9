#pragma once
// The one place in fab that starts child processes. Every other module (the jj runner, the plugin
// host, the built-in plugins) goes through run_process().
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "substrate/error.h"

namespace fab {

enum class Stream { out, err };

// How much of one output stream is kept. Past `bytes`, keep_tail false keeps the first bytes (data:
// the caller sees it was cut from out_bytes / err_bytes); true keeps the last ones (a transcript,
// whose end says how it ended).
struct OutputLimit {
  std::size_t bytes = 64u << 20;
  bool keep_tail = false;
};

struct ProcessSpec {
  std::vector<std::string> argv;                     // argv[0] is a path or a name looked up in PATH
  std::filesystem::path cwd;                         // empty: inherit
  // The child's environment: this process's (or, with env_keep, only the variables it names), less
  // env_remove, plus env.
  std::map<std::string, std::string> env;            // set (added to / overriding the inherited env)
  std::vector<std::string> env_remove;               // removed from the inherited env
  std::optional<std::vector<std::string>> env_keep;  // nullopt: inherit everything; else only these
  std::optional<std::string> stdin_data;             // nullopt: stdin is /dev/null
  std::chrono::milliseconds timeout{0};              // 0: no limit
  std::chrono::milliseconds kill_grace{2000};        // SIGTERM, then SIGKILL after this long
  int timeout_signal = 15;                           // SIGTERM; SIGKILL (9) kills at once
  OutputLimit out_limit;                             // what is kept of stdout
  OutputLimit err_limit;                             // and of stderr
  // Called on the calling thread with every piece read from the child's stdout or stderr, as it
  // arrives (before the limits apply): a caller can stream what a long command prints.
  std::function<void(Stream, std::string_view)> on_output;
  // For a child that ends what its descendants leave behind itself (run_supervised), but may be
  // killed before it can: this process becomes a child subreaper (become_subreaper()), so those
  // descendants are re-parented here when the child dies, and if it did not exit by itself (it
  // was killed by a signal, or timed out), kill_orphans() ends every one of them. (A child that
  // exits by itself has done so already: no /proc scan is spent on it.)
  bool reap_orphans = false;
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
  std::size_t out_bytes = 0;  // how much the child wrote to stdout (`out` holds at most out_limit)
  std::size_t err_bytes = 0;
  std::chrono::microseconds duration{0};

  bool ok() const { return !timed_out && signal == 0 && exit_code == 0; }
  // "exited with status 3" / "killed by signal 11 (Segmentation fault)" / "timed out after 600 s"
  // (the configured timeout, not the measured duration, which includes the kill grace)
  std::string describe() const;
};

// Runs a process to completion (or its timeout), capturing stdout and stderr. The child runs in its
// own process group, so a timeout kills whatever it started too, and when it ends whatever is left
// in its group is killed. It starts with SIGPIPE at its default disposition and no signal blocked
// (whatever this process ignores or blocks). Fails only if the process could not be started at
// all; a non-zero exit is a normal result.
Result<ProcessResult> run_process(const ProcessSpec& spec);

// Where an executable named `name` is on PATH (or empty).
std::filesystem::path find_on_path(const std::string& name);

// scripts/bootstrap's wrappers (.deps/bin/jj, .deps/bin/git) run their program through a private
// glibc loader, and say so in a line "# fab-exec: <loader>\t--library-path\t<lib dir>\t<program>[\t<arg>...]".
// That argv, to run the program directly (saving a shell per call); for anything else (a real
// binary, another script, a wrapper whose loader or program is gone), {path}.
std::vector<std::string> exec_argv_of(const std::filesystem::path& path);

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

// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER, Linux >= 3.4, unprivileged):
// a process whose parent ends while it runs becomes a child of this process (its nearest subreaper
// ancestor) instead of init's, so kill_orphans() can end it. Idempotent.
void become_subreaper() noexcept;

// Kills (SIGKILL) and reaps every child of this process that no run_process call is waiting for:
// the orphans a subreaper adopted. As each one dies, the orphans it leaves become children here in
// turn and are killed too, until none is left, or `limit` has passed. Safe beside run_process calls
// on other threads (a child they are starting is never taken for an orphan); no allocation (it
// reads /proc with raw system calls). Returns how many running processes it killed (those that had
// ended already are only reaped).
int kill_orphans(std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) noexcept;

// Runs `work` (which must not return: it ends with _exit) in a forked child of this process, and
// supervises it from here, where no plugin code runs and no handler of its can be installed:
// SIGTERM or SIGINT to this process is passed on to the child, which gets `grace` to end, then
// SIGKILL. This process becomes a subreaper first, so when the child has ended, every process it
// left behind (however detached) is a child here, and kill_orphans() ends them. The child dies
// with this process (PR_SET_PDEATHSIG SIGKILL). Returns the child's wait status and how many
// processes were left behind. For `fab __plugin-call`; a fork without exec, so call it before this
// process has threads.
struct SupervisedEnd {
  int wait_status = 0;
  int left_behind = 0;
};
SupervisedEnd run_supervised(const std::function<void()>& work, std::chrono::milliseconds grace);

// Ends this process the way a child with this wait status ended (exit code, or the same signal).
[[noreturn]] void exit_like(int wait_status);

// How much of a long text fab keeps: a transcript, an inspector's feedback, what a plugin printed.
// Past it the tail is kept, after a line saying how big the whole was (with_size_note).
inline constexpr std::size_t kKeptOutputBytes = 4u << 20;

// Writes all of `text` to `fd` (a pipe, a file), retrying on EINTR; gives up if the reader is gone.
void write_fully(int fd, std::string_view text) noexcept;

// `text` (what a process printed, `total` bytes of it: text is its tail) with a first line that says
// how much was printed and how much is kept, when something was cut; else `text` as is.
std::string with_size_note(std::string text, std::size_t total);

// The last `limit` bytes of `text` (starting at a UTF-8 character boundary) with_size_note.
std::string tail_with_note(const std::string& text, std::size_t limit);

}  // namespace fab
