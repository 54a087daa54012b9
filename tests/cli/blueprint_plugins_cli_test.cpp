// `fab stamp` and `fab blueprint check` refuse a blueprint whose plugins fab cannot use (of the wrong
// kind, missing, or a broken .so) before anything is written, naming the blueprint's file:line:col.
#include <catch2/catch.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return fs::path(FAB_TEST_PLUGIN_DIR) / ("fab-plugin-" + name + ".so"); }

// A blueprint with `agent` as the agent's plugin and, if given, one inspector and one resolver.
std::string blueprint(const std::string& agent, const std::string& inspector = "", const std::string& refinery = "") {
  std::string y = "name: demo\nagent:\n  plugin: " + agent + "\n  with: { command: \"true\" }\n";
  if (!inspector.empty()) y += "inspect:\n  - plugin: " + inspector + "\n";
  if (!refinery.empty()) y += "refine:\n  - plugin: deterministic\n  - plugin: " + refinery + "\n";
  return y;
}

struct Case {
  std::string name;
  std::string yaml;
  std::string where;   // "bp.yaml:L:C: key" expected at the start of the message
  std::string reason;  // expected among the causes
};

}  // namespace

TEST_CASE("a blueprint naming a plugin fab cannot use is refused by stamp and check, nothing written",
          "[cli][stamp][plugins]") {
  TempDir dir;
  const auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  write_file(dir / "req.md", "# Req\n\n## One\n\nDo it.\n\n## Two\n\nAnd this.\n");
  const auto bp = (dir / "bp.yaml").string();

  const std::vector<Case> cases = {
      {"an inspector as the agent", blueprint("command"), bp + ":3:3: agent.plugin: cannot use plugin 'command' as an agent",
       "plugin 'command' is an inspector plugin, but an agent was asked for"},
      {"an agent as an inspector", blueprint("shell", "shell"),
       bp + ":6:5: inspect[0].plugin: cannot use plugin 'shell' as an inspector",
       "plugin 'shell' is an agent plugin, but an inspector was asked for"},
      {"an inspector as a resolver", blueprint("shell", "command", "command"),
       bp + ":9:5: refine[1].plugin: cannot use plugin 'command' as a refinery",
       "plugin 'command' is an inspector plugin, but a refinery was asked for"},
      {"a plugin that does not exist", blueprint("nosuch"),
       bp + ":3:3: agent.plugin: cannot use plugin 'nosuch' as an agent", "no plugin named 'nosuch'"},
      {"a .so built for another ABI", blueprint(fixture("wrongabi").string()),
       bp + ":3:3: agent.plugin: cannot use plugin '" + fixture("wrongabi").string() + "' as an agent",
       "was built for plugin ABI 99, this fab speaks ABI 1"},
      {"a .so without the entry point", blueprint(fixture("noentry").string()), bp + ":3:3: agent.plugin",
       "has no fab_plugin_info() entry point: is this a fab plugin?"},
      {"a .so that crashes when loaded (only the check's child dies)", blueprint(fixture("ctorcrash").string()),
       bp + ":3:3: agent.plugin", "killed by signal 11 (Segmentation fault)"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      write_file(bp, c.yaml);
      const auto ops = op_count(root);
      for (const auto& args : std::vector<std::vector<std::string>>{{"blueprint", "check", bp},
                                                                    {"stamp", bp, (dir / "req.md").string()},
                                                                    {"stamp", "--dry-run", bp, (dir / "req.md").string()}}) {
        auto r = run_fab(root, args);
        INFO(args[0] << " " << args[1] << ":\n" << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("Error: " + c.where, 0) == 0);
        CHECK(r.err.find("Caused by: ") != std::string::npos);
        CHECK(r.err.find(c.reason) != std::string::npos);
        CHECK(r.err.find("Hint: ") != std::string::npos);
        CHECK(r.out.empty());
      }
      // Nothing was written: no line, no jj operation.
      CHECK(fs::is_empty(root / ".factory" / "lines"));
      CHECK(op_count(root) == ops);
    }
  }
}

TEST_CASE("a blueprint whose plugins are all usable passes check and stamps", "[cli][stamp][plugins]") {
  TempDir dir;
  const auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  write_file(dir / "req.md", "# Req\n\n## One\n\nDo it.\n");
  write_file(dir / "bp.yaml", blueprint("shell", "command", "llm"));
  auto check = run_fab(root, {"blueprint", "check", (dir / "bp.yaml").string()});
  INFO(check.err);
  CHECK(check.exit_code == 0);
  auto stamped = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string()});
  INFO(stamped.err);
  CHECK(stamped.exit_code == 0);
  CHECK_FALSE(fs::is_empty(root / ".factory" / "lines"));
}
