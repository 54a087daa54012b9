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

}  // namespace

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
  return {run->ok(), with_size_note(run->out + run->err, run->out_bytes + run->err_bytes), run->describe()};
}

}  // namespace fab::builtin
