// The plugin host end to end: real .so files (fixtures/, built with fab_add_plugin), loaded and
// called through the real `fab __plugin-call` child of the built fab binary.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_trust.h"
#include "plugins/host/plugin_search.h"
#include "substrate/process.h"
#include "tests/support/processes.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace fab::plugins;
using namespace std::chrono_literals;

namespace {

// Where fab and the built-ins are (compiled in: ctest's ENVIRONMENT from fab_add_test carries
// only the first of its variables, so FAB_BIN_DIR is not reliable here).
fs::path bin_dir() { return FAB_TEST_BIN_DIR; }
fs::path fixture_dir() { return FAB_TEST_PLUGIN_DIR; }
fs::path fixture(const std::string& name) { return fixture_dir() / plugin_file_name(name); }

HostOptions options() {
  HostOptions o;
  o.fab_exe = bin_dir() / "fab";
  o.builtin_dirs = {bin_dir()};
  return o;
}

PluginRef ref_to(const fs::path& path, PluginKind kind) {
  auto ref = find_plugin(path.string(), kind, options());
  REQUIRE(ref);
  return *ref;
}

fab::Result<PluginCallResult> call(const std::string& name, PluginKind kind, const json& request,
                                   std::chrono::milliseconds timeout = 60s) {
  auto r = call_plugin(ref_to(fixture(name), kind), request, timeout);
  if (!r) UNSCOPED_INFO(r.error().render());
  return r;
}

std::string all_of(const fab::Error& e) { return e.render(); }

json work_request(const fs::path& workspace) {
  return {{"line_id", "L1"},       {"item_id", "I7"},           {"title", "Add a greeting"},
          {"body", "Say hello."},  {"change_id", "kxqpmzvw"},   {"attempt", 2},
          {"workspace", workspace.string()}, {"item_file", (workspace / "item.md").string()},
          {"feedback", "too quiet"}, {"with", {{"k", "v"}}}};
}

}  // namespace

TEST_CASE("a good plugin answers through the child, and its prints stay out of the result") {
  auto r = call("good", PluginKind::agent, {{"title", "T"}, {"attempt", 3}, {"with", {{"x", 1}}}}, 30s);
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->response["summary"] == "built T attempt 3");
  CHECK(r->response["transcript"] == "with={\"x\":1} timeout_s=30");  // filled in from the timeout
  CHECK(r->plugin.name == "good");
  CHECK(r->plugin.version == "2.3.4");
  CHECK(r->plugin.kind == PluginKind::agent);
  CHECK(r->diagnostics.find("chatter on stdout") != std::string::npos);
  CHECK(r->diagnostics.find("chatter on stderr") != std::string::npos);
}

TEST_CASE("a plugin written in plain C against the ABI header works") {
  auto r = call("c-agent", PluginKind::agent, json::object());
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->response["summary"] == "hello from C");
  CHECK(r->response["transcript"] == "two writes");
  CHECK(r->plugin.description == "written in C");
}

TEST_CASE("a segfaulting plugin fails that one call with the signal, and the next call works") {
  auto r = call("segv", PluginKind::agent, json::object());
  REQUIRE_FALSE(r);
  INFO(all_of(r.error()));
  CHECK(r.error().message == "plugin 'fab-plugin-segv.so' failed: killed by signal 11 (Segmentation fault)");
  CHECK(all_of(r.error()).find("about to crash") != std::string::npos);  // its last words are kept
  CHECK_FALSE(r.error().hint.empty());
  auto again = call("good", PluginKind::agent, json::object());
  REQUIRE(again);
  CHECK(again->ok);
}

TEST_CASE("a hanging plugin is stopped at the timeout") {
  const auto start = std::chrono::steady_clock::now();
  auto r = call("hang", PluginKind::agent, json::object(), 1s);
  REQUIRE_FALSE(r);
  INFO(all_of(r.error()));
  CHECK(r.error().message.find("failed: timed out after") != std::string::npos);
  CHECK(r.error().hint.find("timeout") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 20s);  // did not hang
}

TEST_CASE("an exception inside a plugin becomes ok:false with its message") {
  auto r = call("throws", PluginKind::inspector, json::object());
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->response["feedback"] == "plugin threw: boom: the linter is on fire");
}

TEST_CASE("garbage output fails the call with the offset of the bad JSON") {
  auto r = call("garbage", PluginKind::agent, json::object());
  REQUIRE_FALSE(r);
  INFO(all_of(r.error()));
  CHECK(r.error().message == "plugin 'fab-plugin-garbage.so' returned invalid JSON at offset 13");
  CHECK(r.error().causes.at(0).find("garbage garbage") != std::string::npos);
}

TEST_CASE("a plugin that exits the process itself fails with its exit status") {
  auto r = call("exits", PluginKind::agent, json::object());
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "plugin 'fab-plugin-exits.so' failed: exited with status 3");
  CHECK(r.error().hint.find("exit()") != std::string::npos);
}

TEST_CASE("invalid plugins are refused before anything of them is called, each with its own reason") {
  SECTION("wrong ABI version") {
    auto r = call("wrongabi", PluginKind::agent, json::object());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("was built for plugin ABI 99, this fab speaks ABI 1") != std::string::npos);
    CHECK(r.error().hint.find("rebuild") != std::string::npos);
  }
  SECTION("struct too small") {
    auto r = call("toosmall", PluginKind::agent, json::object());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("its FabPluginInfo is 8 bytes") != std::string::npos);
  }
  SECTION("missing callback") {
    auto r = call("nocall", PluginKind::agent, json::object());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("its call callback is NULL") != std::string::npos);
  }
  SECTION("a shared library without the entry point") {
    auto r = call("noentry", PluginKind::agent, json::object());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("has no fab_plugin_info() entry point: is this a fab plugin?") != std::string::npos);
    CHECK(r.error().hint.find("FAB_PLUGIN(") != std::string::npos);
  }
  SECTION("a text file named x.so") {
    fab::test::TempDir tmp;
    fab::test::write_file(tmp / "x.so", "I am not a library\n");
    auto r = call_plugin(ref_to(tmp / "x.so", PluginKind::agent), json::object(), 30s);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("x.so' is not a shared library") != std::string::npos);
    CHECK(r.error().causes.at(0).find("ELF magic") != std::string::npos);
  }
  SECTION("a file that does not exist") {
    auto ref = find_plugin("/nonexistent/fab-plugin-nope.so", PluginKind::agent, options());
    REQUIRE_FALSE(ref);
    CHECK(ref.error().message == "plugin file '/nonexistent/fab-plugin-nope.so' does not exist");
    // And if it vanishes between finding and calling, the child says so.
    PluginRef gone{"gone", "/nonexistent/fab-plugin-gone.so", PluginKind::agent, bin_dir() / "fab", false};
    auto r = call_plugin(gone, json::object(), 30s);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("does not exist") != std::string::npos);
  }
  SECTION("the wrong kind") {
    auto r = call("good", PluginKind::inspector, json::object());
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "plugin 'good' is an agent plugin, but an inspector was asked for");
  }
}

TEST_CASE("plugins are found by name along the search path") {
  auto o = options();
  o.path_dirs = {fixture_dir()};
  SECTION("built-ins next to fab, fixtures in FAB_PLUGIN_PATH") {
    auto shell = find_plugin("shell", PluginKind::agent, o);
    REQUIRE(shell);
    CHECK(shell->path == bin_dir() / "fab-plugin-shell.so");
    auto good = find_plugin("good", PluginKind::agent, o);
    REQUIRE(good);
    CHECK(good->by_name);
    auto r = call_plugin(*good, json::object(), 30s);
    REQUIRE(r);
    CHECK(r->ok);
  }
  SECTION("an unknown name lists where fab looked") {
    auto r = find_plugin("nosuch", PluginKind::agent, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "no plugin named 'nosuch'");
    CHECK(r.error().causes.at(0).find(fixture_dir().string()) != std::string::npos);
  }
  SECTION("a file named for one plugin that holds another is refused, with the fix") {
    fab::test::TempDir dir;
    fs::copy_file(fixture("good"), dir / "fab-plugin-mine.so");
    HostOptions f = options();
    f.path_dirs = {dir.path()};
    auto ref = find_plugin("mine", PluginKind::agent, f);
    REQUIRE(ref);
    // The file says "mine" but the plugin inside calls itself "good": refused, with the fix.
    auto r = call_plugin(*ref, json::object(), 30s);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("holds plugin 'good', not 'mine'") != std::string::npos);
    CHECK(r.error().hint.find("fab-plugin-good.so") != std::string::npos);
  }
}

TEST_CASE("plugins are never loaded from where agents can write: the factory's .factory/") {
  fab::test::TempDir factory;
  fs::create_directories(factory / ".factory/plugins");
  fs::copy_file(fixture("good"), factory / ".factory/plugins/fab-plugin-good.so");
  HostOptions f = host_options_from_env(factory.path());
  f.fab_exe = bin_dir() / "fab";
  f.builtin_dirs = {bin_dir()};
  f.path_dirs.clear();
  // Not searched by name any more (an agent could have copied a plugin there) ...
  auto by_name = find_plugin("good", PluginKind::agent, f);
  REQUIRE_FALSE(by_name);
  CHECK(by_name.error().message == "no plugin named 'good'");
  // ... and a path into it (from a blueprint) is refused, naming the place and the way out.
  auto by_path = find_plugin((factory / ".factory/plugins/fab-plugin-good.so").string(), PluginKind::agent, f);
  REQUIRE_FALSE(by_path);
  CHECK(by_path.error().message.find("agents can write under " + (factory / ".factory").string()) !=
        std::string::npos);
  CHECK(by_path.error().hint.find("FAB_PLUGIN_PATH") != std::string::npos);
  // The same directory on FAB_PLUGIN_PATH does not smuggle it in either.
  f.path_dirs = {factory / ".factory/plugins"};
  auto via_path = find_plugin("good", PluginKind::agent, f);
  REQUIRE_FALSE(via_path);
  CHECK(via_path.error().message.find("agents can write under") != std::string::npos);
}

TEST_CASE("two plugins with one name in the search path is an error naming both") {
  fab::test::TempDir a, b;
  fs::copy_file(fixture("good"), a / "fab-plugin-good.so");
  fs::copy_file(fixture("good"), b / "fab-plugin-good.so");
  auto o = options();
  o.path_dirs = {a.path(), b.path()};
  auto r = find_plugin("good", PluginKind::agent, o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "2 plugins are named 'good'");
  REQUIRE(r.error().causes.size() == 2);
  CHECK(r.error().causes[0] == "found " + (a / "fab-plugin-good.so").string());
  CHECK(r.error().causes[1] == "found " + (b / "fab-plugin-good.so").string());
  // The same directory listed twice is not a conflict.
  o.path_dirs = {a.path(), a.path()};
  CHECK(find_plugin("good", PluginKind::agent, o));
}

TEST_CASE("the shell agent runs the command in the workspace with the FAB_* environment") {
  fab::test::TempDir ws;
  fab::test::write_file(ws / "item.md", "# Add a greeting\n");
  auto req = work_request(ws.path());
  req["with"] = {{"command", "env | grep '^FAB_' | sort > env.txt; pwd > pwd.txt; cat \"$FAB_ITEM_FILE\"; "
                             "echo to-stderr >&2"}};
  auto r = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 60s);
  REQUIRE(r);
  INFO(r->response.dump(2));
  CHECK(r->ok);
  CHECK(r->response["summary"] == "command exited with status 0");
  CHECK(r->response["transcript"] == "# Add a greeting\nto-stderr\n");
  CHECK(fab::test::read_file(ws / "pwd.txt") == fs::canonical(ws.path()).string() + "\n");
  const std::string env = fab::test::read_file(ws / "env.txt");
  CHECK(env.find("FAB_ATTEMPT=2\n") != std::string::npos);
  CHECK(env.find("FAB_CHANGE_ID=kxqpmzvw\n") != std::string::npos);
  CHECK(env.find("FAB_ITEM_FILE=" + (ws / "item.md").string() + "\n") != std::string::npos);
  CHECK(env.find("FAB_ITEM_ID=I7\n") != std::string::npos);
  CHECK(env.find("FAB_ITEM_TITLE=Add a greeting\n") != std::string::npos);
  CHECK(env.find("FAB_LINE_ID=L1\n") != std::string::npos);
  CHECK(env.find("FAB_WORKSPACE=" + ws.path().string() + "\n") != std::string::npos);

  SECTION("a failing command is ok:false with its status") {
    req["with"] = {{"command", "echo nope; exit 3"}};
    auto f = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 60s);
    REQUIRE(f);
    CHECK_FALSE(f->ok);
    CHECK(f->response["summary"] == "command exited with status 3");
    CHECK(f->response["transcript"] == "nope\n");
  }
  SECTION("no command is ok:false saying what to set") {
    req["with"] = json::object();
    auto f = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 60s);
    REQUIRE(f);
    CHECK_FALSE(f->ok);
    CHECK(f->response["summary"].get<std::string>().find("with: {command:") != std::string::npos);
  }
  SECTION("a workspace that does not exist is refused before starting anything") {
    req["workspace"] = (ws / "missing").string();
    auto f = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 60s);
    REQUIRE_FALSE(f);
    CHECK(f.error().message.find("is not a directory") != std::string::npos);
  }
}

TEST_CASE("the command inspector passes on exit 0 and fails with the output as feedback") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  auto ref = ref_to(bin_dir() / "fab-plugin-command.so", PluginKind::inspector);
  req["with"] = {{"command", "echo all good"}};
  auto pass = call_plugin(ref, req, 60s);
  REQUIRE(pass);
  CHECK(pass->ok);
  CHECK(pass->response["feedback"] == "all good\n");
  req["with"] = {{"command", "echo 'test_greeting failed: expected hello' >&2; exit 1"}};
  auto failed = call_plugin(ref, req, 60s);
  REQUIRE(failed);
  CHECK_FALSE(failed->ok);
  CHECK(failed->response["feedback"] ==
        "test_greeting failed: expected hello\ninspection command exited with status 1\n");
}

TEST_CASE("the deterministic refinery merges through the host and leaves markers for a real conflict") {
  auto ref = ref_to(bin_dir() / "fab-plugin-deterministic.so", PluginKind::refinery);
  const std::string base = "one\ntwo\nthree\nfour\nfive\n";
  SECTION("clean") {
    json req = {{"path", "a.txt"}, {"base", base}, {"ours", "ONE\ntwo\nthree\nfour\nfive\n"},
                {"theirs", "one\ntwo\nthree\nfour\nFIVE\n"}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->ok);
    CHECK(r->response["resolved"] == true);
    CHECK(r->response["unresolved"] == 0);
    CHECK(r->response["content"] == "ONE\ntwo\nthree\nfour\nFIVE\n");
  }
  SECTION("conflict") {
    json req = {{"path", "a.txt"}, {"base", base}, {"ours", "one\ntwo\nTHREE\nfour\nfive\n"},
                {"theirs", "one\ntwo\nthree!\nfour\nfive\n"}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->ok);
    CHECK(r->response["resolved"] == false);
    CHECK(r->response["unresolved"] == 1);
    CHECK(r->response["content"] ==
          "one\ntwo\n<<<<<<< ours\nTHREE\n||||||| base\nthree\n=======\nthree!\n>>>>>>> theirs\nfour\nfive\n");
  }
}

TEST_CASE("the deterministic refinery takes the higher of two raised versions unless told not to") {
  auto ref = ref_to(bin_dir() / "fab-plugin-deterministic.so", PluginKind::refinery);
  const std::string base = "[package]\nname = \"x\"\nversion = \"1.0.2\"\n";
  const std::string ours = "[package]\nname = \"x\"\nversion = \"1.1.0\"\n";
  const std::string theirs = "[package]\nname = \"x\"\nversion = \"1.0.3\"\n";
  SECTION("by default") {
    json req = {{"path", "Cargo.toml"}, {"base", base}, {"ours", ours}, {"theirs", theirs}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->response["resolved"] == true);
    CHECK(r->response["content"] == ours);
    CHECK(r->response["message"].get<std::string>().find("newer-version") != std::string::npos);
  }
  SECTION("with newer_version: false") {
    json req = {{"path", "Cargo.toml"}, {"base", base}, {"ours", ours}, {"theirs", theirs},
                {"with", {{"newer_version", false}}}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->response["resolved"] == false);
    CHECK(r->response["unresolved"] == 1);
  }
}

TEST_CASE("the deterministic refinery merges one line token by token only with token_merge: true") {
  auto ref = ref_to(bin_dir() / "fab-plugin-deterministic.so", PluginKind::refinery);
  const std::string base = "int f(int a, int b);\n", ours = "int f(long a, int b);\n", theirs = "int f(int a, int c);\n";
  SECTION("by default the line is left") {
    json req = {{"path", "f.h"}, {"base", base}, {"ours", ours}, {"theirs", theirs}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->ok);
    CHECK(r->response["resolved"] == false);
    CHECK(r->response["unresolved"] == 1);
  }
  SECTION("with token_merge: true") {
    json req = {{"path", "f.h"}, {"base", base}, {"ours", ours}, {"theirs", theirs}, {"with", {{"token_merge", true}}}};
    auto r = call_plugin(ref, req, 60s);
    REQUIRE(r);
    CHECK(r->response["resolved"] == true);
    CHECK(r->response["content"] == "int f(long a, int c);\n");
    CHECK(r->response["message"].get<std::string>().find("line 1: token-merge") != std::string::npos);
  }
}

TEST_CASE("the llm refinery without an endpoint says what to configure") {
  auto ref = ref_to(bin_dir() / "fab-plugin-llm.so", PluginKind::refinery);
  json req = {{"path", "a.txt"}, {"base", "a\n"}, {"ours", "b\n"}, {"theirs", "c\n"}};
  auto r = call_plugin(ref, req, 60s);
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->response["message"].get<std::string>().find("with: {endpoint:") != std::string::npos);
}

namespace {
fab::ProcessResult run_fab(std::vector<std::string> args, const fs::path& plugin_path = {}) {
  fab::ProcessSpec spec;
  spec.argv = {(bin_dir() / "fab").string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  if (!plugin_path.empty()) spec.env["FAB_PLUGIN_PATH"] = plugin_path.string();
  spec.env_remove = plugin_path.empty() ? std::vector<std::string>{"FAB_PLUGIN_PATH"} : std::vector<std::string>{};
  spec.timeout = 120s;
  auto r = fab::run_process(spec);
  REQUIRE(r);
  return *r;
}
}  // namespace

TEST_CASE("fab plugins list --json shows built-ins and path plugins, and survives broken ones") {
  auto p = run_fab({"plugins", "list", "--json"}, fixture_dir());
  INFO(p.err);
  REQUIRE(p.exit_code == 0);
  // JSON Lines, like every listing: one object per line.
  json rows = json::array();
  std::istringstream lines(p.out);
  for (std::string l; std::getline(lines, l);) {
    INFO(l);
    auto row = json::parse(l);
    REQUIRE(row.is_object());
    rows.push_back(std::move(row));
  }
  auto row = [&](const std::string& name) {
    for (const auto& r : rows) {
      if (r["name"] == name) return r;
    }
    FAIL("no row for " << name);
    return json{};
  };
  CHECK(row("shell")["kind"] == "agent");
  CHECK(row("shell")["valid"] == true);
  CHECK(row("command")["kind"] == "inspector");
  CHECK(row("deterministic")["kind"] == "refinery");
  CHECK(row("good")["version"] == "2.3.4");
  CHECK(row("good")["path"] == fixture("good").string());
  CHECK(row("wrongabi")["valid"] == false);
  CHECK(row("wrongabi")["error"].get<std::string>().find("ABI 99") != std::string::npos);
  CHECK(row("ctorcrash")["valid"] == false);
  CHECK(row("ctorcrash")["error"].get<std::string>().find("killed by signal 11") != std::string::npos);
}

TEST_CASE("fab plugins check validates one file") {
  auto good = run_fab({"plugins", "check", fixture("good").string()});
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("name:    good") != std::string::npos);
  CHECK(good.out.find("version: 2.3.4") != std::string::npos);
  CHECK(good.out.find("about:   echoes its request") != std::string::npos);

  fab::test::TempDir tmp;
  fab::test::write_file(tmp / "x.so", "text\n");
  auto bad = run_fab({"plugins", "check", (tmp / "x.so").string()});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("Error: '" + (tmp / "x.so").string() + "' is not a shared library") != std::string::npos);
  CHECK(bad.err.find("Hint: ") != std::string::npos);

  auto abi = run_fab({"plugins", "check", fixture("wrongabi").string()});
  CHECK(abi.exit_code == 1);
  CHECK(abi.err.find("this fab speaks ABI 1") != std::string::npos);
}

TEST_CASE("a timed-out shell agent takes the command it started down with it") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  req["timeout_s"] = 300;  // the plugin's own limit is far away: the host's timeout must do it
  req["with"] = {{"command", "echo $$ > pid.txt; exec sleep 300"}};
  auto ref = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  auto r = call_plugin(ref, req, 2s);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("timed out") != std::string::npos);
  const std::string pid_text = fab::test::read_file(ws / "pid.txt");
  REQUIRE_FALSE(pid_text.empty());
  const pid_t pid = std::stoi(pid_text);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {  // reaped by init once killed; generous bound
    gone = ::kill(pid, 0) != 0;
    if (!gone) ::usleep(50000);
  }
  CHECK(gone);
  if (!gone) ::kill(pid, SIGKILL);
}

namespace {
// A plugin call on a thread of its own; if the test fails before it ends, it is stopped and joined.
struct CallThread {
  std::optional<fab::Result<PluginCallResult>> result;
  std::atomic<bool> done{false};
  std::thread thread;
  CallThread(const PluginRef& ref, const json& request)
      : thread([this, ref, request] {
          result = call_plugin(ref, request, 120s);
          done = true;
        }) {}
  ~CallThread() {
    if (thread.joinable()) {
      fab::kill_all_children();
      thread.join();
    }
  }
  // The pid the agent's command wrote to `file`. If the call ends before the file is written, the
  // test fails at once and says how the call ended (instead of waiting out wait_for_file).
  pid_t wait_for_pid(const fs::path& file) {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      std::error_code ec;
      if (fs::exists(file, ec)) {
        const auto text = fab::test::read_file(file);
        if (!text.empty() && text.back() == '\n') return std::stoi(text);
      }
      if (done) {
        thread.join();
        FAIL("the call ended before " << file << " was written: "
                                      << (result && *result ? (*result)->response.dump()
                                                             : result ? result->error().render() : "no result"));
      }
      ::usleep(20000);
    }
    FAIL("no " << file << " after 30 s");
    return 0;
  }
};
}  // namespace

TEST_CASE("kill_all_children stops a plugin call and everything its shell agent started", "[stop]") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  std::string command = "sleep 60 & echo $! > sleep.pid; wait";
  SECTION("a command that ends on SIGTERM") {}
  SECTION("a command that ignores SIGTERM is killed after the plugin child's grace") {
    command = "trap '' TERM; " + command;
  }
  req["with"] = {{"command", command}};
  const auto ref = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  CallThread call(ref, req);
  const pid_t sleep_pid = call.wait_for_pid(ws / "sleep.pid");
  REQUIRE_FALSE(fab::test::process_gone(sleep_pid));

  const auto start = std::chrono::steady_clock::now();
  fab::kill_all_children();
  const auto took = std::chrono::steady_clock::now() - start;
  call.thread.join();
  CHECK(took < fab::kStopChildrenGrace + 500ms);  // bounded, even for a command that ignores SIGTERM
  // The `sleep` ran in the agent's own process group, under the plugin child: it is gone all the same.
  CHECK(fab::test::gone_within(sleep_pid, 2s));
  REQUIRE(call.result);
  REQUIRE_FALSE(*call.result);
  CHECK(call.result->error().message.find("failed: killed by signal") != std::string::npos);
}

// --- processes: every process a call starts ends with the call ---------------------------------

TEST_CASE("what an agent leaves running when it succeeds, in or out of its process group, ends with the call",
          "[stop]") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  std::string command;
  // The detached process writes its pid itself, once it is in its new session (before that, the
  // command's process group would still take it down with the command).
  const std::string detached = "setsid sh -c 'echo $$ > left.pid; exec sleep 300'";
  SECTION("setsid sleep &") { command = detached + " &"; }
  SECTION("a double fork into a new session") { command = "(" + detached + " &) &"; }
  SECTION("nohup in the background, the shell's output redirected away") {
    command = "nohup " + detached + " >/dev/null 2>&1 &";
  }
  req["with"] = {{"command", command + "\nwhile [ ! -s left.pid ]; do sleep 0.05; done; echo done"}};
  const auto start = std::chrono::steady_clock::now();
  auto r = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 60s);
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(std::chrono::steady_clock::now() - start < 20s);  // the call did not wait for it either
  const pid_t left = std::stoi(fab::test::read_file(ws / "left.pid"));
  CHECK(fab::test::process_gone(left));  // already, when the call returned
  CHECK(r->diagnostics.find("[fab: the plugin left 1 process running; killed when the call ended]") !=
        std::string::npos);
}

namespace {
pid_t parent_of(pid_t pid) {
  const std::string stat = fab::test::read_file("/proc/" + std::to_string(pid) + "/stat");
  return std::stoi(stat.substr(stat.rfind(')') + 4));  // "pid (comm) S ppid ..."
}
}  // namespace

TEST_CASE("a plugin child killed with SIGKILL takes its agent's command, and what it detached, with it",
          "[stop]") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  // $PPID is the worker the plugin runs in; `exec` keeps the shell's pid for the sleep. The
  // detached sleep is not in the command's group and has no parent-death signal: only a subreaper
  // can catch it once its parents are gone.
  req["with"] = {{"command", "setsid sleep 300 & echo $! > detached.pid; echo $PPID > worker.pid; "
                             "echo $$ > sleep.pid; exec sleep 60"}};
  const auto ref = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  CallThread call(ref, req);
  const pid_t detached = call.wait_for_pid(ws / "detached.pid");
  const pid_t sleep_pid = call.wait_for_pid(ws / "sleep.pid");
  const pid_t worker = call.wait_for_pid(ws / "worker.pid");
  const pid_t child = parent_of(worker);  // `fab __plugin-call`, supervising it
  // No handler runs on SIGKILL: only the parent-death signal and the subreapers can help.
  SECTION("the worker the plugin runs in: the child supervising it ends what it left") {
    REQUIRE(::kill(worker, SIGKILL) == 0);
  }
  SECTION("the child itself: what it started is re-parented to this process, which ends it") {
    REQUIRE(::kill(child, SIGKILL) == 0);
  }
  call.thread.join();
  CHECK(fab::test::gone_within(sleep_pid, 3s));
  CHECK(fab::test::gone_within(detached, 3s));
  REQUIRE(call.result);
  REQUIRE_FALSE(*call.result);
  CHECK(call.result->error().message.find("killed by signal 9") != std::string::npos);
}

TEST_CASE("when fab itself is killed, the plugin child ends what its agent started, detached or not", "[stop]") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  req["with"] = {{"command", "setsid sleep 300 & echo $! > detached.pid; sleep 300 & echo $! > attached.pid; "
                             "echo $PPID > child.pid; wait"}};
  fab::test::write_file(ws / "request.json", req.dump());
  // `fab plugins call` is a whole fab: the plugin child's parent.
  std::optional<fab::Result<fab::ProcessResult>> fab_run;
  std::thread runner([&] {
    fab_run = fab::run_process({.argv = {(bin_dir() / "fab").string(), "plugins", "call", "shell", "--request",
                                         (ws / "request.json").string(), "--timeout", "120"},
                                .timeout = 120s});
  });
  const pid_t detached = std::stoi(fab::test::wait_for_file(ws / "detached.pid"));
  const pid_t attached = std::stoi(fab::test::wait_for_file(ws / "attached.pid"));
  const pid_t worker = std::stoi(fab::test::wait_for_file(ws / "child.pid"));
  const pid_t child = parent_of(worker);
  const pid_t fab_pid = parent_of(child);
  REQUIRE(::kill(fab_pid, SIGKILL) == 0);
  runner.join();
  REQUIRE(fab_run);
  REQUIRE(*fab_run);
  CHECK((*fab_run)->signal == SIGKILL);
  CHECK(fab::test::gone_within(attached, 5s));
  CHECK(fab::test::gone_within(detached, 5s));
  CHECK(fab::test::gone_within(worker, 5s));
  CHECK(fab::test::gone_within(child, 5s));
}

TEST_CASE("an inspector's `yes | head -1` passes quietly: children get SIGPIPE at its default") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  req["with"] = {{"command", "yes | head -1"}};
  auto r = call_plugin(ref_to(bin_dir() / "fab-plugin-command.so", PluginKind::inspector), req, 60s);
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->response["feedback"] == "y\n");
}

// --- output: a transcript of any size, and what was printed before a timeout ----------------------

TEST_CASE("40 MB of output is a good agent's transcript, its tail kept with the size noted") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  req["with"] = {{"command", "yes 'a line of output' | head -c 40000000; echo THE END"}};
  auto r = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 120s);
  REQUIRE(r);
  CHECK(r->ok);
  const auto transcript = r->response["transcript"].get<std::string>();
  CHECK(transcript.rfind("[fab: 40000008 bytes (38.1 MiB) were printed; only the last", 0) == 0);
  CHECK(transcript.size() < fab::kKeptOutputBytes + 200);
  CHECK(transcript.substr(transcript.size() - 8) == "THE END\n");
  // Streamed to the diagnostics as well, cut the same way.
  CHECK(r->diagnostics.rfind("[fab: 40000008 bytes", 0) == 0);
  CHECK(r->diagnostics.size() < fab::kKeptOutputBytes + 400);
}

TEST_CASE("a plugin's own huge transcript and prints are cut to their tail, not an error") {
  auto r = call("big", PluginKind::agent,
                {{"with", {{"transcript_bytes", 30000000}, {"print_bytes", 20000000}}}}, 120s);
  REQUIRE(r);
  CHECK(r->ok);
  const auto transcript = r->response["transcript"].get<std::string>();
  CHECK(transcript.rfind("[fab: 30000000 bytes", 0) == 0);
  CHECK(transcript.size() < fab::kKeptOutputBytes + 200);
  CHECK(transcript.substr(transcript.size() - 8) == "THE END\n");
  CHECK(r->diagnostics.rfind("[fab: 20000000 bytes", 0) == 0);
  CHECK(r->diagnostics.substr(r->diagnostics.size() - 11) == "LAST WORDS\n");
  // A small one is left as it is.
  auto small = call("big", PluginKind::agent, {{"with", {{"transcript_bytes", 100}}}});
  REQUIRE(small);
  CHECK(small->response["transcript"].get<std::string>().size() == 100);
}

TEST_CASE("a timed-out agent keeps what it printed: streamed to on_output, and its last lines in the error") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  req["timeout_s"] = 300;
  req["with"] = {{"command", "echo step one; echo step two >&2; sleep 300"}};
  std::string streamed;
  CallOptions options;
  options.on_output = [&](std::string_view text) { streamed += text; };
  auto r = call_plugin(ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent), req, 2s, options);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("timed out") != std::string::npos);
  CHECK(streamed.rfind("step one\nstep two\n", 0) == 0);
  CHECK(all_of(r.error()).find("step one\nstep two") != std::string::npos);
}

// --- environment ------------------------------------------------------------------------------

TEST_CASE("a call's environment: secrets removed, or only the variables a blueprint lists") {
  fab::test::TempDir ws;
  ::setenv("FAB_TEST_RESOLVER_KEY", "sk-secret", 1);
  ::setenv("FAB_TEST_OTHER", "other", 1);
  auto req = work_request(ws.path());
  req["with"] = {{"command", "env | sort > env.txt"}};
  const auto ref = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  CallOptions options;
  SECTION("secrets removed") {
    options.env.remove = {"FAB_TEST_RESOLVER_KEY"};
    REQUIRE(call_plugin(ref, req, 60s, options));
    const auto env = fab::test::read_file(ws / "env.txt");
    CHECK(env.find("sk-secret") == std::string::npos);
    CHECK(env.find("FAB_TEST_OTHER=other\n") != std::string::npos);
    CHECK(env.find("PATH=") != std::string::npos);
  }
  SECTION("only the listed ones, plus the FAB_* the agent is given") {
    options.env.only = std::vector<std::string>{"HOME", "FAB_TEST_RESOLVER_KEY"};
    REQUIRE(call_plugin(ref, req, 60s, options));
    const auto env = fab::test::read_file(ws / "env.txt");
    CHECK(env.find("FAB_TEST_RESOLVER_KEY=sk-secret\n") != std::string::npos);  // listed on purpose
    CHECK(env.find("FAB_TEST_OTHER") == std::string::npos);
    CHECK(env.find("\nPATH=") == std::string::npos);
    CHECK(env.find("FAB_ITEM_ID=I7\n") != std::string::npos);
    CHECK(env.find("FAB_WORKSPACE=") != std::string::npos);
  }
  ::unsetenv("FAB_TEST_RESOLVER_KEY");
  ::unsetenv("FAB_TEST_OTHER");
}

// --- plugin trust -------------------------------------------------------------------------------

TEST_CASE("a plugin file or directory others can write, or another user owns, is refused like ssh refuses a key") {
  fab::test::TempDir tmp;  // under /tmp: a sticky, world-writable dir above it is fine
  const fs::path dir = tmp / "plugins";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  const fs::path so = dir / "fab-plugin-good.so";
  fs::copy_file(fixture("good"), so);
  fs::permissions(so, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  auto o = options();
  o.path_dirs = {dir};
  REQUIRE(find_valid_plugin("good", PluginKind::agent, o));  // as it is: fine

  SECTION("a group-writable plugin file") {
    fs::permissions(so, fs::perms::group_write, fs::perm_options::add);
    auto r = find_valid_plugin("good", PluginKind::agent, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "refusing to load a plugin: plugin file " + so.string() +
                                   " is writable by its group (mode 764)");
    CHECK(r.error().hint.find("chmod go-w " + so.string()) != std::string::npos);
    // A call refuses it as well (the child checks before it loads anything).
    auto call = call_plugin(ref_to(so, PluginKind::agent), json::object(), 30s);
    REQUIRE_FALSE(call);
    CHECK(call.error().message.find("is writable by its group") != std::string::npos);
  }
  SECTION("a world-writable directory above it") {
    fs::permissions(dir, fs::perms::others_write, fs::perm_options::add);
    auto r = find_valid_plugin(so.string(), PluginKind::agent, o);  // by path: the same check
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "refusing to load a plugin: directory " + dir.string() +
                                   " is writable by others (mode 757) (it holds plugin " + so.string() + ")");
    CHECK(r.error().hint.find("chmod go-w " + dir.string()) != std::string::npos);
  }
  SECTION("a symlink to a plugin others can write") {
    fs::permissions(so, fs::perms::others_write, fs::perm_options::add);
    fs::create_directories(tmp / "links");
    fs::create_symlink(so, tmp / "links/fab-plugin-good.so");
    auto r = find_valid_plugin((tmp / "links/fab-plugin-good.so").string(), PluginKind::agent, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("plugin file " + so.string() + " is writable by others") != std::string::npos);
  }
  SECTION("a plugin owned by another user") {
    if (::geteuid() != 0) {
      WARN("not root: cannot give a file to another user here; the ownership refusal is not exercised");
      return;
    }
    REQUIRE(::chown(so.c_str(), 65534, 65534) == 0);  // nobody
    auto r = find_valid_plugin("good", PluginKind::agent, o);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("plugin file " + so.string() + " is owned by user 65534") != std::string::npos);
    CHECK(r.error().message.find("not by you (0") != std::string::npos);
    CHECK(r.error().hint.find("chown") != std::string::npos);
  }
}

// --- sandbox ------------------------------------------------------------------------------------

TEST_CASE("a sandboxed call writes only its workspace and a private /tmp, and nothing it starts outlives it",
          "[sandbox]") {
  fab::test::TempDir root;  // under /tmp, like a factory in a temp dir: the private /tmp must not hide it
  const fs::path repo = root / "repo", ws = root / "workspaces/pool-1", other = root / "workspaces/pool-2";
  fs::create_directories(repo / ".factory/lines/L1/items");
  fs::create_directories(ws);
  fs::create_directories(other);
  fab::test::write_file(repo / ".factory/lines/L1/items/item.md", "# the item\n");
  auto req = work_request(ws);
  req["item_file"] = (repo / ".factory/lines/L1/items/item.md").string();
  const std::string outside_tmp = "/tmp/fab-sandbox-probe-" + std::to_string(::getpid());
  auto try_write = [](const fs::path& p, const std::string& label) {
    return "if touch '" + p.string() + "' 2>/dev/null; then echo '" + label + " writable'; else echo '" + label +
           " refused'; fi >> report.txt\n";
  };
  req["with"] = {{"command", "cat \"$FAB_ITEM_FILE\" > item-copy.txt\n" + try_write(ws / "mine", "workspace") +
                                 try_write(repo / "evil", "repo") + try_write(repo / ".factory/evil", "factory") +
                                 try_write(other / "evil", "other workspace") +
                                 try_write("/usr/evil", "usr") + try_write(outside_tmp, "tmp") +
                                 "echo $$ > shell.pid\n"
                                 "setsid sh -c 'sleep 2; echo late > late.txt' &\n"}};
  CallOptions options;
  options.sandbox = {.enabled = true, .writable = {ws}, .read_only = {repo, root / "workspaces"}};
  const auto ref = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  if (auto available = fab::plugins::sandbox_available(); !available) {
    WARN("bubblewrap cannot run a sandbox here, so a sandboxed call must be refused: " << available.error().render());
    auto r = call_plugin(ref, req, 60s, options);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "cannot run plugin 'fab-plugin-shell.so' in a sandbox");
    return;
  }
  auto r = call_plugin(ref, req, 60s, options);
  REQUIRE(r);
  INFO(r->response.dump(2) << r->diagnostics);
  CHECK(r->ok);
  CHECK(fab::test::read_file(ws / "item-copy.txt") == "# the item\n");  // the item file is readable
  CHECK(fab::test::read_file(ws / "report.txt") ==
        "workspace writable\nrepo refused\nfactory refused\nother workspace refused\nusr refused\ntmp writable\n");
  CHECK_FALSE(fs::exists(repo / "evil"));
  CHECK_FALSE(fs::exists(other / "evil"));
  CHECK_FALSE(fs::exists(outside_tmp));  // its /tmp was its own
  // Its own PID namespace: bwrap is 1 there, the shell a few after it.
  CHECK(std::stoi(fab::test::read_file(ws / "shell.pid")) < 20);
  ::sleep(3);
  CHECK_FALSE(fs::exists(ws / "late.txt"));  // what it detached ended with the call

  SECTION("without bubblewrap (FAB_BWRAP names none) the call is refused, not run unsandboxed") {
    ::setenv("FAB_BWRAP", (root / "no-bwrap").c_str(), 1);
    auto refused = call_plugin(ref, req, 60s, options);
    ::unsetenv("FAB_BWRAP");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message == "cannot run plugin 'fab-plugin-shell.so' in a sandbox");
    CHECK(refused.error().causes.at(0).find("bubblewrap was not found") != std::string::npos);
    CHECK(refused.error().hint.find("apt-get install bubblewrap") != std::string::npos);
  }
}

TEST_CASE("a plugin built against the first ABI 1 layout (no settings schema) still loads and answers") {
  auto info = probe_plugin(fixture("v1-layout"), bin_dir() / "fab");
  if (!info) UNSCOPED_INFO(info.error().render());
  REQUIRE(info);
  CHECK(info->name == "v1-layout");
  CHECK(info->description == "built against the first ABI 1 layout");
  CHECK(info->settings_schema.empty());  // what lies past its struct_size is not read
  auto r = call("v1-layout", PluginKind::agent, json::object());
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->response["summary"] == "old but fine");
}

TEST_CASE("a plugin's settings schema travels from the struct through the probe") {
  SECTION("written by hand in C") {
    auto info = probe_plugin(fixture("c-agent"), bin_dir() / "fab");
    REQUIRE(info);
    auto schema = json::parse(info->settings_schema);
    CHECK(schema["required"] == json::array({"greeting"}));
    CHECK(schema["properties"]["times"]["minimum"] == 1);
  }
  SECTION("built by the SDK from settings()") {
    auto info = probe_plugin(fixture("usage"), bin_dir() / "fab");
    REQUIRE(info);
    auto schema = json::parse(info->settings_schema);
    CHECK(schema["additionalProperties"] == false);
    CHECK(schema["required"] == json::array({"model"}));
    CHECK(schema["properties"]["model"] == json({{"type", "string"}, {"description", "which model to use"}}));
    CHECK(schema["properties"]["budget"]["type"] == "number");
  }
  SECTION("the built-ins declare theirs") {
    auto required = [](const std::string& name) {
      auto info = probe_plugin(bin_dir() / plugin_file_name(name), bin_dir() / "fab");
      REQUIRE(info);
      REQUIRE_FALSE(info->settings_schema.empty());
      return json::parse(info->settings_schema).at("required");
    };
    CHECK(required("shell") == json::array({"command"}));
    CHECK(required("command") == json::array({"command"}));
    CHECK(required("deterministic") == json::array());
    CHECK(required("llm") == json::array({"endpoint", "model"}));
  }
  SECTION("a schema that is not JSON makes the plugin invalid") {
    auto info = probe_plugin(fixture("badschema"), bin_dir() / "fab");
    REQUIRE_FALSE(info);
    CHECK(info.error().message.find("is invalid: its settings schema is not valid JSON") != std::string::npos);
  }
}

TEST_CASE("usage and retry: false come through the SDK, and the host checks their types") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  SECTION("from the SDK") {
    auto ok = call("usage", PluginKind::agent, req);
    REQUIRE(ok);
    CHECK(ok->ok);
    CHECK(ok->retryable());
    CHECK(ok->response["usage"] == json({{"input_tokens", 1200}, {"output_tokens", 300}, {"cost_usd", 0.0125}}));
    CHECK_FALSE(ok->response.contains("retry"));
    req["title"] = "permanent";
    auto failed = call("usage", PluginKind::agent, req);
    REQUIRE(failed);
    CHECK_FALSE(failed->ok);
    CHECK_FALSE(failed->retryable());
    CHECK(failed->response["retry"] == false);
  }
  auto answer = [&](json result) {
    req["with"] = {{"result", std::move(result)}};
    return call("echo-result", PluginKind::agent, req);
  };
  SECTION("a version-1 result without them is left as it is") {
    auto r = answer({{"ok", false}, {"summary", "x"}});
    REQUIRE(r);
    CHECK(r->retryable());
    CHECK_FALSE(r->response.contains("usage"));
  }
  SECTION("partial usage is fine") {
    auto r = answer({{"ok", true}, {"usage", {{"output_tokens", 5}}}});
    REQUIRE(r);
    CHECK(r->response["usage"] == json({{"output_tokens", 5}}));
  }
  SECTION("wrong types fail the call, saying which field") {
    for (auto [bad, field] : std::vector<std::pair<json, std::string>>{
             {{{"ok", false}, {"retry", "no"}}, "\"retry\" is a string"},
             {{{"ok", true}, {"usage", 12}}, "\"usage\" is a number"},
             {{{"ok", true}, {"usage", {{"input_tokens", -1}}}}, "\"usage.input_tokens\" is -1"},
             {{{"ok", true}, {"usage", {{"output_tokens", 1.5}}}}, "\"usage.output_tokens\" is 1.5"},
             {{{"ok", true}, {"usage", {{"cost_usd", "free"}}}}, "\"usage.cost_usd\" is \"free\""}}) {
      auto r = answer(bad);
      INFO(bad.dump());
      REQUIRE_FALSE(r);
      CHECK(r.error().message.find("returned a result fab cannot use: " + field) != std::string::npos);
    }
  }
}

TEST_CASE("a command the shell cannot run fails with retry: false and says why") {
  fab::test::TempDir ws;
  auto req = work_request(ws.path());
  const auto shell = ref_to(bin_dir() / "fab-plugin-shell.so", PluginKind::agent);
  const auto inspector = ref_to(bin_dir() / "fab-plugin-command.so", PluginKind::inspector);
  SECTION("not found (127): the README's ./agent.sh, not committed") {
    req["with"] = {{"command", "./agent.sh"}};
    auto r = call_plugin(shell, req, 60s);
    REQUIRE(r);
    CHECK_FALSE(r->ok);
    CHECK_FALSE(r->retryable());
    const auto summary = r->response["summary"].get<std::string>();
    CHECK(summary.find("exit status 127: not found") != std::string::npos);
    CHECK(summary.find("not committed on trunk is not there") != std::string::npos);
    CHECK(summary.find("`./agent.sh`") != std::string::npos);
    CHECK(r->response["transcript"].get<std::string>().find("agent.sh") != std::string::npos);  // sh's own words

    auto i = call_plugin(inspector, req, 60s);
    REQUIRE(i);
    CHECK_FALSE(i->ok);
    CHECK_FALSE(i->retryable());
    CHECK(i->response["feedback"].get<std::string>().find("exit status 127: not found") != std::string::npos);
  }
  SECTION("not executable (126)") {
    fab::test::write_file(ws / "agent.sh", "#!/bin/sh\necho hi\n");  // no x bit
    req["with"] = {{"command", "./agent.sh"}};
    auto r = call_plugin(shell, req, 60s);
    REQUIRE(r);
    CHECK_FALSE(r->ok);
    CHECK_FALSE(r->retryable());
    CHECK(r->response["summary"].get<std::string>().find("exit status 126: not executable") != std::string::npos);
  }
  SECTION("an ordinary failure may be retried") {
    req["with"] = {{"command", "exit 1"}};
    auto r = call_plugin(shell, req, 60s);
    REQUIRE(r);
    CHECK_FALSE(r->ok);
    CHECK(r->retryable());
    auto i = call_plugin(inspector, req, 60s);
    REQUIRE(i);
    CHECK(i->retryable());
  }
}
