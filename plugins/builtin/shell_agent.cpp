// Built-in agent `shell`: builds a work item by running `with.command` through `sh -c` in the item's
// workspace. Exit status 0 is success; the command's output is the transcript.
#include <fab/plugin.h>

#include "plugins/builtin/run_command.h"

namespace {

class ShellAgent : public fab::AgentPlugin {
 public:
  fab::AgentResult build(const fab::AgentRequest& request) override {
    auto run = fab::builtin::run_work_command(request);
    fab::AgentResult result{run.ok, "command " + run.status, run.output};
    if (!run.permanent.empty()) {
      result.summary = run.permanent;
      result.retry = false;
    }
    return result;
  }
  static std::vector<fab::Setting> settings() { return fab::builtin::command_settings("the command that builds the item"); }
  std::string describe() const override {
    return "runs with.command through sh -c in the item's workspace (env FAB_LINE_ID, FAB_ITEM_ID, FAB_ITEM_TITLE, "
           "FAB_CHANGE_ID, FAB_ATTEMPT, FAB_WORKSPACE, FAB_ITEM_FILE); exit 0 is success";
  }
};

}  // namespace

FAB_PLUGIN(ShellAgent, "shell", "1.0.0")
