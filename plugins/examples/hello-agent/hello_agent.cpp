// hello-agent: a complete fab agent plugin. It "builds" a work item by writing HELLO.md into the
// item's workspace (fab snapshots the workspace into the item's jj change afterwards).
#include <fab/plugin.h>

#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

class HelloAgent : public fab::AgentPlugin {
 public:
  fab::AgentResult build(const fab::AgentRequest& req) override {
    // Settings from the blueprint's `with:` block, with defaults.
    const std::string greeting = req.with.value("greeting", "Hello");

    // Anything printed goes to the plugin's diagnostics (shown by `fab plugins call`, kept by fab).
    std::cerr << "hello-agent: attempt " << req.attempt << " of item " << req.item_id << "\n";

    std::ofstream out(req.workspace + "/HELLO.md");
    if (!out) {
      // An exception becomes {"ok": false, "summary": "plugin threw: ..."}; the attempt fails, not fab.
      throw std::runtime_error("cannot write HELLO.md in " + req.workspace);
    }
    out << "# " << greeting << ", " << req.title << "\n\n" << req.body << "\n";
    if (!req.feedback.empty()) out << "\nLast time the inspector said:\n\n" << req.feedback << "\n";

    fab::AgentResult result;
    result.ok = true;
    result.summary = greeting + ", " + req.title + " (attempt " + std::to_string(req.attempt) + ")";
    result.transcript = "wrote HELLO.md\n";
    return result;
  }

  std::string describe() const override { return "writes HELLO.md greeting the work item"; }
};

FAB_PLUGIN(HelloAgent, "hello-agent", "1.0.0")
