#include "plugins/builtin/run_command.h"

#include <csignal>
#include <stdexcept>
#include <string_view>

namespace fab::builtin {
namespace {

extern "C" void on_terminate(int sig) {
  // fab stopped this call (timeout, stop, or fab died): the command runs in its own process group,
  // take it too (SIGTERM, a moment to finish, then SIGKILL).
  fab::kill_all_children(fab::kStopGrandchildrenGrace);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// The shell's own exit statuses for a command it could not run (POSIX: 127 not found, 126 found
// but not executable), explained: the usual cause is a script that is not in the item's workspace.
std::string permanent_failure(int exit_code, const std::string& command) {
  const std::string where =
      "The command runs in the item's workspace, a checkout of trunk plus the item's change: a script that "
      "is not committed on trunk is not there. Commit it on trunk, or give its absolute path (command: `" +
      command + "`).";
  if (exit_code == 127) return "the shell could not find the command (exit status 127: not found). " + where;
  if (exit_code == 126) {
    return "the shell found the command but could not run it (exit status 126: not executable; `chmod +x` it "
           "and commit that, or run it as `sh SCRIPT`). " + where;
  }
  return {};
}

}  // namespace

std::vector<fab::Setting> command_settings(const std::string& what) {
  return {{"command", fab::SettingType::string, true,
           what + ", run through sh -c in the item's workspace with the FAB_* environment"}};
}

CommandRun run_work_command(const WorkRequest& request) {
  auto it = request.with.find("command");
  if (it == request.with.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw std::runtime_error("no command given: set `with: {command: \"...\"}` in the blueprint");
  }
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGINT, on_terminate);

  ProcessSpec spec;
  // `exec 2>&1` first, so the transcript keeps stdout and stderr in the order they were written.
  spec.argv = {"/bin/sh", "-c", "exec 2>&1\n" + it->get<std::string>()};
  spec.cwd = request.workspace;
  spec.env = {{"FAB_LINE_ID", request.line_id},     {"FAB_ITEM_ID", request.item_id},
              {"FAB_ITEM_TITLE", request.title},    {"FAB_CHANGE_ID", request.change_id},
              {"FAB_ATTEMPT", std::to_string(request.attempt)}, {"FAB_WORKSPACE", request.workspace},
              {"FAB_ITEM_FILE", request.item_file}};
  if (request.timeout_s > 0) spec.timeout = std::chrono::seconds(request.timeout_s);
  spec.parent_death_signal = SIGKILL;  // the plugin child SIGKILLed: the command goes too
  // A transcript of any size: its tail is kept (with a note of the whole size). And it is streamed
  // to this process's stderr, fab's diagnostics for the call, as it is printed, so that what a
  // command printed before a timeout or a crash reaches fab.
  spec.out_limit = {.bytes = kKeptOutputBytes, .keep_tail = true};
  spec.err_limit = spec.out_limit;
  spec.on_output = [](Stream, std::string_view text) { write_fully(2, text); };
  auto run = run_process(spec);
  if (!run) throw std::runtime_error(run.error().render());
  CommandRun out{run->ok(), with_size_note(run->out + run->err, run->out_bytes + run->err_bytes), run->describe(), {}};
  if (!run->timed_out && run->signal == 0) out.permanent = permanent_failure(run->exit_code, it->get<std::string>());
  return out;
}

}  // namespace fab::builtin
