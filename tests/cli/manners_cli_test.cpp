// The CLI's manners through the real binary: `fab help`, shell completion generated from the verb
// table, colour (--color, NO_COLOR, terminals), `fab run`'s live summary on a terminal, `fab init` on
// an existing factory, and whose name fab's commits carry.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/fab_runner.h"
#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;

namespace {

ProcessResult run_in(const fs::path& cwd, std::vector<std::string> argv,
                     std::map<std::string, std::string> env = {}) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.cwd = cwd;
  spec.env = std::move(env);
  spec.timeout = std::chrono::minutes(2);
  auto r = run_process(spec);
  REQUIRE(r);
  return *r;
}

std::string fab_bin() { return (bin_dir() / "fab").string(); }

// `command` run under a pseudo-terminal (util-linux `script`), its output as the terminal saw it.
ProcessResult on_terminal(const fs::path& cwd, const std::string& command,
                          std::map<std::string, std::string> env = {}) {
  return run_in(cwd, {"script", "-q", "-e", "-c", command, "/dev/null"}, std::move(env));
}

const std::string kRed = "\033[31m";

}  // namespace

TEST_CASE("fab help lists the commands and shows each one's usage", "[cli][help]") {
  TempDir dir;
  auto help = run_fab(dir.path(), {"help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out == run_fab(dir.path(), {"--help"}).out);
  for (const char* verb : {"init", "stamp", "item", "line", "help", "completion"}) CHECK(help.out.find(verb) != std::string::npos);
  CHECK(help.out.find("__plugin-call") == std::string::npos);

  auto stamp = run_fab(dir.path(), {"help", "stamp"});
  CHECK(stamp.exit_code == 0);
  CHECK(stamp.out == run_fab(dir.path(), {"stamp", "--help"}).out);
  CHECK(stamp.out.find("--again") != std::string::npos);
  auto sub = run_fab(dir.path(), {"help", "item", "log"});
  CHECK(sub.exit_code == 0);
  CHECK(sub.out.find("--attempt") != std::string::npos);

  auto typo = run_fab(dir.path(), {"help", "stmp"});
  CHECK(typo.exit_code == 2);
  CHECK(typo.err == "Error: `fab` has no command 'stmp'\nHint: did you mean `fab help stamp`?\n");
  auto sub_typo = run_fab(dir.path(), {"help", "line", "shwo"});
  CHECK(sub_typo.exit_code == 2);
  CHECK(sub_typo.err.find("Hint: did you mean `fab help line show`?") != std::string::npos);
  CHECK(run_fab(dir.path(), {"help", "__plugin-call"}).exit_code == 2);
  // The unknown-verb error points at `fab help` now.
  auto unknown = run_fab(dir.path(), {"frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("Hint: run `fab help` to list the commands") != std::string::npos);
}

TEST_CASE("shell completion is generated from the verb table", "[cli][completion]") {
  TempDir dir;
  auto bash = run_fab(dir.path(), {"completion", "bash"});
  REQUIRE(bash.exit_code == 0);
  write_file(dir / "fab.bash", bash.out);
  // What bash would offer after the words typed so far (COMP_WORDS), the last being completed.
  auto complete_bash = [&](const std::string& words) {
    auto r = run_in(dir.path(), {"bash", "-c",
                                 "source ./fab.bash; COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
                                 "_fab; if ((${#COMPREPLY[@]})); then printf '%s\\n' \"${COMPREPLY[@]}\"; fi"});
    INFO(r.err);
    REQUIRE(r.ok());
    return r.out;
  };
  CHECK(complete_bash("fab li") == "line\n");
  CHECK(complete_bash("fab line ''") == "list\nshow\nreblueprint\ndrop\n");
  CHECK(complete_bash("fab -q item r") == "retry\n");
  const auto opts = complete_bash("fab item log X --");
  CHECK(opts.find("--attempt\n") != std::string::npos);
  CHECK(opts.find("--step\n") != std::string::npos);
  CHECK(opts.find("--quiet\n") != std::string::npos);  // global options follow any verb
  CHECK(opts.find("--json\n") == std::string::npos);
  CHECK(complete_bash("fab completion ''").empty());

  auto zsh = run_fab(dir.path(), {"completion", "zsh"});
  REQUIRE(zsh.exit_code == 0);
  CHECK(zsh.out.rfind("#compdef fab\n", 0) == 0);
  write_file(dir / "_fab", zsh.out);
  auto complete_zsh = [&](const std::string& words) {
    // compadd and _files stand in for zsh's completion system, printing what they are given.
    auto r = run_in(dir.path(), {"zsh", "-f", "-c",
                                 "compadd() { shift; print -l -- \"$@\" }; _files() { print FILES }; source ./_fab; "
                                 "words=(" + words + "); CURRENT=${#words}; _fab"});
    INFO(r.err);
    REQUIRE(r.ok());
    return r.out;
  };
  CHECK(complete_zsh("fab ''").find("stamp\n") != std::string::npos);
  CHECK(complete_zsh("fab line ''") == "list\nshow\nreblueprint\ndrop\n");
  CHECK(complete_zsh("fab stamp ''") == "FILES\n");
  CHECK(complete_zsh("fab stamp --").find("--again\n") != std::string::npos);

  auto bad = run_fab(dir.path(), {"completion", "fish"});
  CHECK(bad.exit_code == 2);
}

TEST_CASE("colour: --color, NO_COLOR, and only on a terminal by default", "[cli][color]") {
  TempDir dir;
  // Off a terminal: no colour unless asked.
  auto plain = run_fab(dir.path(), {"status"});
  CHECK(plain.exit_code == 1);
  CHECK(plain.err.rfind("Error: ", 0) == 0);
  auto forced = run_fab(dir.path(), {"--color=always", "status"});
  CHECK(forced.err.rfind(kRed + "Error:\033[0m ", 0) == 0);
  CHECK(forced.err.find("\033[36mHint:\033[0m ") != std::string::npos);
  auto after = run_fab(dir.path(), {"status", "--color", "always"});
  CHECK(after.err.rfind(kRed + "Error:", 0) == 0);
  auto wrong = run_fab(dir.path(), {"--color=sometimes", "status"});
  CHECK(wrong.exit_code == 2);

  // On a terminal: colour by default; NO_COLOR and --color=never turn it off; --color=always wins over NO_COLOR.
  const std::string cmd = fab_bin() + " status";
  CHECK(on_terminal(dir.path(), cmd).out.find(kRed + "Error:") != std::string::npos);
  CHECK(on_terminal(dir.path(), cmd, {{"NO_COLOR", "1"}}).out.find("\033[") == std::string::npos);
  CHECK(on_terminal(dir.path(), cmd + " --color=never").out.find("\033[") == std::string::npos);
  CHECK(on_terminal(dir.path(), cmd + " --color=always", {{"NO_COLOR", "1"}}).out.find(kRed + "Error:") !=
        std::string::npos);
}

TEST_CASE("fab run shows a live summary on a terminal and plain lines elsewhere", "[cli][run][live]") {
  FactoryFixture f;
  f.stamp(blueprint_yaml(R"(echo "$FAB_ITEM_ID" > "$FAB_ITEM_ID.txt")"), requirement_md(3));
  auto live = on_terminal(f.root(), fab_bin() + " run --until-idle", {{"NO_COLOR", "1"}});
  INFO(live.out);
  REQUIRE(live.ok());
  CHECK(live.out.find("\r\033[Kfab: 0 building · 0 inspecting · 0 refining · 0 merged · 0 dropped · - items/min") !=
        std::string::npos);
  CHECK(live.out.find("3 merged · 0 dropped · ") != std::string::npos);
  CHECK(live.out.find(" items/min") != std::string::npos);
  CHECK(live.out.find("fab: idle: 3 merged, 0 dropped, 0 sent to rework") != std::string::npos);
  // Each thing is said once: no "(attempt 1): attempt 1".
  CHECK(live.out.find("-> building (attempt 1)\r") != std::string::npos);
  CHECK(live.out.find(": attempt 1") == std::string::npos);

  f.stamp(blueprint_yaml(R"(echo "$FAB_ITEM_ID" > "$FAB_ITEM_ID.txt")"), requirement_md(2));
  auto plain = f.fab({"run", "--until-idle"});
  REQUIRE(plain.ok());
  CHECK(plain.err.find('\r') == std::string::npos);
  CHECK(plain.err.find("items/min") == std::string::npos);
  CHECK(plain.err.find(" queued -> building (attempt 1)\n") != std::string::npos);
  CHECK(plain.err.find(" -> merged (attempt 1)") != std::string::npos);
}

TEST_CASE("fab init on an existing factory says so and changes nothing unless asked", "[cli][init]") {
  TempDir dir;
  auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string(), "--trunk", "dev"}).exit_code == 0);
  const auto config = read_file(root / ".factory" / "config.json");
  const auto ops = op_count(root);

  for (auto args : {std::vector<std::string>{"init", root.string()}, {"init", root.string(), "--trunk", "dev"}}) {
    auto again = run_fab(dir.path(), args);
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(again.err.find("is already a factory (trunk: dev); nothing changed") != std::string::npos);
  }
  auto other = run_fab(dir.path(), {"init", root.string(), "--trunk", "release"});
  CHECK(other.exit_code == 1);
  CHECK(other.err.find("Error: '" + fs::canonical(root).string() + "' is already a factory, whose trunk is 'dev'") == 0);
  CHECK(other.err.find("Hint: to make 'release' its trunk (lines stamped before keep landing where they did), run "
                       "`fab init --trunk release --change-trunk`") != std::string::npos);
  CHECK(read_file(root / ".factory" / "config.json") == config);
  CHECK(op_count(root) == ops);

  auto change = run_fab(dir.path(), {"init", root.string(), "--trunk", "release", "--change-trunk"});
  INFO(change.err);
  CHECK(change.exit_code == 0);
  CHECK(change.err.find("its trunk changed from dev to release") != std::string::npos);
  CHECK(nlohmann::json::parse(read_file(root / ".factory" / "config.json")).at("trunk") == "release");
  CHECK(jj_read(root, {"bookmark", "list", "-T", "name ++ \"\\n\""}) == "dev\nrelease\n");
  CHECK(run_fab(dir.path(), {"init", root.string(), "--change-trunk"}).exit_code == 2);
}

TEST_CASE("commits are by the user's jj identity, else git's, unless the factory config names one",
          "[cli][identity]") {
  TempDir dir;
  // A home of the test's own: no jj or git configuration but what each section writes.
  const auto home = dir / "home";
  fs::create_directories(home);
  std::map<std::string, std::string> env = {
      {"HOME", home.string()}, {"XDG_CONFIG_HOME", (home / ".config").string()},
      {"JJ_CONFIG", (home / "jj.toml").string()}, {"GIT_CONFIG_GLOBAL", (home / "gitconfig").string()},
      {"GIT_CONFIG_NOSYSTEM", "1"}};
  write_file(home / "jj.toml", "");
  write_file(home / "gitconfig", "");
  const auto root = dir / "repo";
  auto fab = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {fab_bin(), "-C", root.string()});
    auto r = run_in(dir.path(), args, env);
    INFO(r.err);
    REQUIRE(r.ok());
    return r;
  };
  fs::create_directories(root);
  fab({"init", "."});
  write_file(dir / "bp.yaml", "name: who\nagent:\n  plugin: shell\n  with: { command: 'echo x > \"$FAB_ITEM_ID\"' }\n");
  int n = 0;
  // Stamps and runs one item; returns the author and committer of its merged change.
  auto landed_by = [&]() {
    write_file(dir / "req.md", "## Item " + std::to_string(++n) + "\n\nDo it.\n");
    fab({"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string()});
    fab({"run", "--until-idle"});
    auto r = run_in(root, {jj_for_tests().string(), "--no-pager", "--ignore-working-copy", "log", "--no-graph", "-r",
                           "main", "-T", "author.name() ++ \" <\" ++ author.email() ++ \"> / \" ++ committer.email()"},
                    env);
    REQUIRE(r.ok());
    return r.out;
  };
  SECTION("nothing configured anywhere: fab's own") { CHECK(landed_by() == "fab <fab@localhost> / fab@localhost"); }
  SECTION("git's identity when jj has none") {
    write_file(home / "gitconfig", "[user]\n\tname = Grace Git\n\temail = grace@example.org\n");
    CHECK(landed_by() == "Grace Git <grace@example.org> / grace@example.org");
  }
  SECTION("jj's identity first") {
    write_file(home / "gitconfig", "[user]\n\tname = Grace Git\n\temail = grace@example.org\n");
    write_file(home / "jj.toml", "[user]\nname = \"Jay Jay\"\nemail = \"jay@example.org\"\n");
    CHECK(landed_by() == "Jay Jay <jay@example.org> / jay@example.org");
    // fab init's own commit of the files already in a directory too (made while the repo is created).
    const auto other = dir / "other";
    write_file(other / "notes.txt", "mine\n");
    REQUIRE(run_in(dir.path(), {fab_bin(), "init", other.string()}, env).ok());
    auto first = run_in(other, {jj_for_tests().string(), "--no-pager", "--ignore-working-copy", "log", "--no-graph", "-r",
                                "main", "-T", "author.email()"},
                        env);
    CHECK(first.out == "jay@example.org");
  }
  SECTION("the factory config's, when it names one") {
    write_file(home / "jj.toml", "[user]\nname = \"Jay Jay\"\nemail = \"jay@example.org\"\n");
    auto config = nlohmann::json::parse(read_file(root / ".factory" / "config.json"));
    CHECK_FALSE(config.contains("user"));  // fab init names nobody
    config["user"] = {{"name", "Factory Bot"}, {"email", "bot@example.org"}};
    write_file(root / ".factory" / "config.json", config.dump());
    CHECK(landed_by() == "Factory Bot <bot@example.org> / bot@example.org");
  }
}

TEST_CASE("a misspelt plugin name gets a suggestion in fab plugins too", "[cli][plugins]") {
  TempDir dir;
  auto r = run_fab(dir.path(), {"plugins", "check", "comand"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("Error: no plugin named 'comand'") == 0);
  CHECK(r.err.find("Hint: did you mean 'command'?") != std::string::npos);
}
