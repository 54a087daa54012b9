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
    }
    return {run.ok, feedback};
  }
  std::string describe() const override {
    return "runs with.command through sh -c in the item's workspace; exit 0 passes, its output is the feedback";
  }
};

}  // namespace

FAB_PLUGIN(CommandInspector, "command", "1.0.0")
