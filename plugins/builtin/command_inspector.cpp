// Built-in inspector `command`: judges a work item by running `with.command` through `sh -c` in its
// workspace. Exit status 0 passes; the command's output is the feedback either way.
#include <fab/plugin.h>

#include "plugins/builtin/run_command.h"

namespace {

class CommandInspector : public fab::InspectorPlugin {
 public:
  fab::InspectorResult inspect(const fab::InspectorRequest& request) override {
    auto run = fab::builtin::run_work_command(request);
    std::string feedback = run.output;
    if (!run.ok) {
      if (!feedback.empty() && feedback.back() != '\n') feedback += '\n';
      feedback += "inspection command " + run.status + "\n";
      if (!run.permanent.empty()) feedback += run.permanent + "\n";
    }
    return {run.ok, feedback, run.permanent.empty()};
  }
  static std::vector<fab::Setting> settings() { return fab::builtin::command_settings("the command that judges the item (exit 0 passes)"); }
  std::string describe() const override {
    return "runs with.command through sh -c in the item's workspace; exit 0 passes, its output is the feedback";
  }
};

}  // namespace

FAB_PLUGIN(CommandInspector, "command", "1.0.0")
