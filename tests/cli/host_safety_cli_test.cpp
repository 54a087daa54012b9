// The machine checks a new user meets: `fab doctor`, and a blueprint asking for a sandbox the
// machine cannot run, refused by `fab blueprint check` and `fab stamp` at its file:line:col.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "plugins/host/sandbox.h"
#include "substrate/git_version.h"
#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path fixture(const std::string& name) { return fs::path(FAB_TEST_PLUGIN_DIR) / ("fab-plugin-" + name + ".so"); }

std::vector<json> rows_of(const std::string& out) {
  std::vector<json> rows;
  for (const auto& line : text_lines(out)) rows.push_back(json::parse(line));
  return rows;
}

const json* row(const std::vector<json>& rows, const std::string& check) {
  for (const auto& r : rows) {
    if (r["check"] == check) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("fab doctor checks jj, git, bubblewrap and every plugin", "[cli][doctor]") {
  TempDir dir;
  auto run = run_fab(dir.path(), {"doctor", "--json"}, std::chrono::seconds(120), {{"FAB_PLUGIN_PATH", ""}});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  const auto rows = rows_of(run.out);
  for (const auto& r : rows) {
    CHECK((r["status"] == "ok" || r["status"] == "warn" || r["status"] == "fail"));
    CHECK(r.contains("detail"));
    CHECK(r.contains("hint"));
  }
  REQUIRE(row(rows, "jj"));
  CHECK((*row(rows, "jj"))["status"] == "ok");
  CHECK((*row(rows, "jj"))["detail"].get<std::string>().rfind("jj 0.", 0) == 0);
  REQUIRE(row(rows, "git"));
  const auto& git = *row(rows, "git");
  // Which way workspaces go with the git on PATH (Debian 12's 2.39: no worktree of their own).
  if (fab::git_supports_worktrees()) {
    CHECK(git["status"] == "ok");
    CHECK(git["detail"].get<std::string>().find("each workspace gets its own git worktree") != std::string::npos);
  } else {
    CHECK(git["status"] == "warn");
    CHECK(git["detail"].get<std::string>().find("not a git repository") != std::string::npos);
    auto v = fab::git_version();
    if (v && !v->at_least(2, 42)) {
      CHECK(git["detail"].get<std::string>().rfind("git " + v->short_version() + " is older than 2.42", 0) == 0);
    }
  }
  REQUIRE(row(rows, "bubblewrap"));
  CHECK((*row(rows, "bubblewrap"))["status"] == (fab::plugins::sandbox_available() ? "ok" : "warn"));
  for (const auto* name : {"plugin shell", "plugin command", "plugin deterministic", "plugin llm"}) {
    INFO(name);
    REQUIRE(row(rows, name));
    CHECK((*row(rows, name))["status"] == "ok");
  }
  CHECK((*row(rows, "plugin shell"))["detail"].get<std::string>().rfind("agent 1.0.0 (", 0) == 0);

  // The same as a table: one line per check, status first.
  auto table = run_fab(dir.path(), {"doctor"}, std::chrono::seconds(120), {{"FAB_PLUGIN_PATH", ""}});
  CHECK(table.exit_code == 0);
  CHECK(table.out.rfind("ok    jj ", 0) == 0);
  CHECK(table.out.find("\nok    plugin shell ") != std::string::npos);
}

TEST_CASE("fab doctor says each workspace gets its own git worktree with scripts/bootstrap's git", "[cli][doctor]") {
  TempDir dir;
  const auto git = jj_for_tests().parent_path() / "git";
  INFO("scripts/bootstrap installs git >= 2.54 as " << git.string());
  REQUIRE(fs::exists(git));
  const std::string path = git.parent_path().string() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "");
  // First on PATH (as the agents' and the user's git too).
  auto run = run_fab(dir.path(), {"doctor", "--json"}, std::chrono::seconds(120), {{"FAB_PLUGIN_PATH", ""}, {"PATH", path}});
  INFO(run.out << run.err);
  auto rows = rows_of(run.out);
  REQUIRE(row(rows, "git"));
  CHECK((*row(rows, "git"))["status"] == "ok");
  const auto detail = (*row(rows, "git"))["detail"].get<std::string>();
  CHECK(detail.rfind("git 2.", 0) == 0);
  CHECK(detail.find(": each workspace gets its own git worktree") != std::string::npos);
  CHECK(detail.find(git.string()) != std::string::npos);

  // Named by FAB_GIT while an older git is first on PATH: a git >= 2.48 would make the user's
  // repository unreadable to that one (extensions.relativeWorktrees), so no worktree.
  auto old = fab::path_git_version();
  if (old && !old->at_least(2, 48)) {
    auto env_run = run_fab(dir.path(), {"doctor", "--json"}, std::chrono::seconds(120),
                           {{"FAB_PLUGIN_PATH", ""}, {"FAB_GIT", git.string()}});
    INFO(env_run.out << env_run.err);
    rows = rows_of(env_run.out);
    REQUIRE(row(rows, "git"));
    CHECK((*row(rows, "git"))["status"] == "warn");
    CHECK((*row(rows, "git"))["detail"].get<std::string>().find("relativeWorktrees") != std::string::npos);
    CHECK((*row(rows, "git"))["detail"].get<std::string>().find("not a git repository") != std::string::npos);
  }
}

TEST_CASE("fab doctor fails on a broken plugin or an unsafe plugin dir, and warns of a missing one",
          "[cli][doctor]") {
  TempDir dir;
  const fs::path plugins = dir / "plugins";
  fs::create_directories(plugins);
  fs::copy_file(fixture("wrongabi"), plugins / "fab-plugin-wrongabi.so");
  fs::copy_file(fixture("good"), plugins / "fab-plugin-good.so");
  const std::string path = plugins.string() + ":" + (dir / "missing").string();
  auto run = run_fab(dir.path(), {"doctor", "--json"}, std::chrono::seconds(120), {{"FAB_PLUGIN_PATH", path}});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("Error: 1 check failed") != std::string::npos);
  const auto rows = rows_of(run.out);
  REQUIRE(row(rows, "plugin wrongabi"));
  CHECK((*row(rows, "plugin wrongabi"))["status"] == "fail");
  CHECK((*row(rows, "plugin wrongabi"))["detail"].get<std::string>().find("ABI 99") != std::string::npos);
  CHECK((*row(rows, "plugin good"))["status"] == "ok");
  bool warned_missing = false;
  for (const auto& r : rows) {
    warned_missing = warned_missing || (r["check"] == "plugin dir" && r["status"] == "warn" &&
                                        r["detail"].get<std::string>().find("missing (in FAB_PLUGIN_PATH) does "
                                                                            "not exist") != std::string::npos);
  }
  CHECK(warned_missing);

  fs::remove(plugins / "fab-plugin-wrongabi.so");
  fs::permissions(plugins, fs::perms::group_write, fs::perm_options::add);
  auto unsafe = run_fab(dir.path(), {"doctor"}, std::chrono::seconds(120), {{"FAB_PLUGIN_PATH", plugins.string()}});
  INFO(unsafe.out << unsafe.err);
  CHECK(unsafe.exit_code == 1);
  CHECK(unsafe.out.find("fail  plugin dir           refusing to load a plugin: directory " + plugins.string() +
                        " is writable by its group") != std::string::npos);
  CHECK(unsafe.out.find("hint: anyone who can write it could change the code fab runs; fix it with `chmod go-w " +
                        plugins.string() + "`") != std::string::npos);
  // The plugin in it is refused for the same reason.
  CHECK(unsafe.out.find("fail  plugin good") != std::string::npos);
}

TEST_CASE("a blueprint asking for a sandbox this machine cannot run is refused at its sandbox key",
          "[cli][stamp][sandbox]") {
  TempDir dir;
  const auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  write_file(dir / "req.md", "# Req\n\n## One\n\nDo it.\n");
  const auto bp = (dir / "bp.yaml").string();
  write_file(bp, "name: demo\nagent:\n  plugin: shell\n  with: { command: \"true\" }\n  sandbox: true\n");
  const std::map<std::string, std::string> no_bwrap = {{"FAB_BWRAP", (dir / "no-bwrap").string()}};

  auto check = run_fab(root, {"blueprint", "check", bp}, std::chrono::seconds(120), no_bwrap);
  CHECK(check.exit_code == 1);
  CHECK(check.err.rfind("Error: " + bp + ":5:3: agent.sandbox: this machine cannot run a sandbox\n", 0) == 0);
  CHECK(check.err.find("Caused by: bubblewrap was not found: FAB_BWRAP is '" + (dir / "no-bwrap").string() + "'") !=
        std::string::npos);
  CHECK(check.err.find("Hint: install it (Debian/Ubuntu: apt-get install bubblewrap") != std::string::npos);

  auto stamp = run_fab(root, {"stamp", bp, (dir / "req.md").string()}, std::chrono::seconds(120), no_bwrap);
  CHECK(stamp.exit_code == 1);
  CHECK(stamp.err.find(bp + ":5:3: agent.sandbox: this machine cannot run a sandbox") != std::string::npos);
  auto lines = run_fab(root, {"line", "list", "--json"});
  CHECK(lines.out.empty());  // nothing stamped

  // On an inspector, the inspector's key is named.
  write_file(bp, "name: demo\nagent: { plugin: shell, with: { command: \"true\" } }\ninspect:\n  - plugin: command\n"
                 "    with: { command: \"true\" }\n    sandbox: true\n");
  auto inspector = run_fab(root, {"blueprint", "check", bp}, std::chrono::seconds(120), no_bwrap);
  CHECK(inspector.exit_code == 1);
  CHECK(inspector.err.find(bp + ":6:5: inspect[0].sandbox: this machine cannot run a sandbox") != std::string::npos);

  // Where bubblewrap works, the same blueprint is fine.
  if (fab::plugins::sandbox_available()) {
    auto ok = run_fab(root, {"blueprint", "check", bp});
    CHECK(ok.exit_code == 0);
  } else {
    WARN("bubblewrap cannot run a sandbox on this machine: " << fab::plugins::sandbox_available().error().render());
  }
}
