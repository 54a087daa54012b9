// `fab stamp` and `fab blueprint check` refuse a blueprint whose plugins fab cannot use (of the wrong
// kind, missing, or a broken .so) or whose `with:` settings a plugin's schema refuses, before
// anything is written, naming the blueprint's file:line:col.
#include <catch2/catch.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return fs::path(FAB_TEST_PLUGIN_DIR) / ("fab-plugin-" + name + ".so"); }

// A blueprint with `agent` as the agent's plugin and, if given, one inspector and one resolver.
std::string blueprint(const std::string& agent, const std::string& inspector = "", const std::string& refinery = "") {
  std::string y = "name: demo\nagent:\n  plugin: " + agent + "\n  with: { command: \"true\" }\n";
  if (!inspector.empty()) y += "inspect:\n  - plugin: " + inspector + "\n    with: { command: \"true\" }\n";
  if (!refinery.empty()) {
    y += "refine:\n  - plugin: deterministic\n  - plugin: " + refinery + "\n    with: { endpoint: \"http://127.0.0.1:9/v1\", model: m }\n";
  }
  return y;
}

struct Case {
  std::string name;
  std::string yaml;
  std::string where;   // "bp.yaml:L:C: key" expected at the start of the message
  std::string reason;  // expected among the causes
  std::string hint = "Hint: ";  // expected in the hint
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
       bp + ":10:5: refine[1].plugin: cannot use plugin 'command' as a refinery",
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
      {"a misspelt plugin name gets a suggestion", blueprint("shel"),
       bp + ":3:3: agent.plugin: cannot use plugin 'shel' as an agent", "no plugin named 'shel'", "did you mean 'shell'?"},
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
        CHECK(r.err.find(c.hint) != std::string::npos);
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

TEST_CASE("plugin settings are checked against each plugin's schema before anything is written",
          "[cli][stamp][plugins][settings]") {
  TempDir dir;
  const auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  write_file(dir / "req.md", "# Req\n\n## One\n\nDo it.\n");
  const auto bp = (dir / "bp.yaml").string();
  struct SettingsCase {
    std::string name, yaml, error, hint;
  };
  const std::vector<SettingsCase> cases = {
      {"a typo inside with:", "name: demo\nagent:\n  plugin: shell\n  with:\n    comand: ./agent.sh\n",
       bp + ":5:5: unknown setting 'comand' in 'agent.with' (plugin 'shell')",
       "Hint: did you mean 'command'? (plugin 'shell' takes: command)"},
      {"a string where a boolean goes",
       "name: demo\nagent:\n  plugin: shell\n  with: { command: \"true\" }\nrefine:\n  - plugin: deterministic\n"
       "    with: { union: \"yes\" }\n",
       bp + ":7:20: 'refine[0].with.union' must be a boolean (true or false), got the string 'yes'",
       "Hint: write union: true or union: false, without quotes"},
      {"llm without an endpoint",
       "name: demo\nagent:\n  plugin: shell\n  with: { command: \"true\" }\nrefine:\n  - plugin: llm\n"
       "    with: { model: m }\n",
       bp + ":7:5: 'refine[0].with' is missing 'endpoint', which plugin 'llm' requires",
       "Hint: add it: with: { endpoint: \"...\" } (the OpenAI-compatible API base URL"},
      {"a required key and no with: at all", "name: demo\nagent:\n  plugin: shell\n",
       bp + ":3:3: 'agent' is missing 'command', which plugin 'shell' requires", "Hint: add it: with: { command:"},
      {"an integer that is a string",
       "name: demo\nagent:\n  plugin: shell\n  with: { command: x }\nrefine:\n  - plugin: llm\n"
       "    with: { endpoint: e, model: m, timeout_s: \"30\" }\n",
       bp + ":7:47: 'refine[0].with.timeout_s' must be an integer, got the string '30'",
       "Hint: write the number without quotes: timeout_s: 30"},
      {"the schema of a C plugin (enum, minimum)",
       "name: demo\nagent:\n  plugin: " + fixture("c-agent").string() + "\n  with: { greeting: hi, times: 0 }\n",
       bp + ":4:32: 'agent.with.times' must be at least 1, got 0", "Hint: "},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      write_file(bp, c.yaml);
      const auto ops = op_count(root);
      for (const auto& args : std::vector<std::vector<std::string>>{{"blueprint", "check", bp},
                                                                    {"stamp", bp, (dir / "req.md").string()}}) {
        auto r = run_fab(root, args);
        INFO(args[0] << ":\n" << r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("Error: " + c.error, 0) == 0);
        CHECK(r.err.find(c.hint) != std::string::npos);
      }
      CHECK(fs::is_empty(root / ".factory" / "lines"));
      CHECK(op_count(root) == ops);
    }
  }
  SECTION("settings the schemas accept pass, and fab plugins check lists them") {
    write_file(bp, "name: demo\nagent:\n  plugin: " + fixture("c-agent").string() +
                       "\n  with: { greeting: hi, times: 2, mood: grumpy, loud: true }\nrefine:\n"
                       "  - plugin: deterministic\n    with: { union: true }\n");
    auto r = run_fab(root, {"blueprint", "check", bp});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    auto listed = run_fab(root, {"plugins", "check", "llm"});
    CHECK(listed.out.find("endpoint (string, required): the OpenAI-compatible API base URL") != std::string::npos);
  }
}
