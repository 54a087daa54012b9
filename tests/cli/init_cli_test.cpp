// `fab init` through the real binary on real jj: a second init keeps the factory's trunk, and a
// plain git repository (the usual "fab init in your repo") becomes a factory with its history.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

std::string bookmarks(const fs::path& repo) { return jj_read(repo, {"bookmark", "list", "-T", "name ++ \"\\n\""}); }

std::string config_trunk(const fs::path& repo) {
  return nlohmann::json::parse(read_file(repo / ".factory" / "config.json")).at("trunk").get<std::string>();
}

// git in `dir`, as the user would run it; its output.
std::string git(const fs::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c",
                             "init.defaultBranch=main", "-c", "advice.detachedHead=false"});
  auto r = fab::run_process({.argv = args, .cwd = dir});
  REQUIRE(r);
  INFO(r->err);
  REQUIRE(r->ok());
  return r->out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A git repository with history: two commits on `branch` (checked out) and a side branch.
fs::path make_git_repo(const TempDir& dir, const std::string& branch) {
  auto root = dir / "project";
  fs::create_directories(root);
  git(root, {"init", "-q", "-b", branch, "."});
  write_file(root / "README.md", "# project\n");
  git(root, {"add", "README.md"});
  git(root, {"commit", "-q", "-m", "first"});
  git(root, {"checkout", "-q", "-b", "feature"});
  write_file(root / "feature.txt", "wip\n");
  git(root, {"add", "feature.txt"});
  git(root, {"commit", "-q", "-m", "feature work"});
  git(root, {"checkout", "-q", branch});
  write_file(root / "src.txt", "code\n");
  git(root, {"add", "src.txt"});
  git(root, {"commit", "-q", "-m", "second"});
  return root;
}

}  // namespace

TEST_CASE("a second fab init keeps the trunk, only --trunk with --change-trunk changes it", "[cli][init]") {
  TempDir dir;
  auto root = dir / "repo";
  auto first = run_fab(dir.path(), {"init", root.string(), "--trunk", "dev"});
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.find("(trunk: dev)") != std::string::npos);
  CHECK(config_trunk(root) == "dev");
  CHECK(bookmarks(root) == "dev\n");
  const auto config = read_file(root / ".factory" / "config.json");
  const auto ops = op_count(root);

  auto again = run_fab(dir.path(), {"init", root.string()});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(again.err.find("(trunk: dev)") != std::string::npos);
  CHECK(read_file(root / ".factory" / "config.json") == config);
  CHECK(bookmarks(root) == "dev\n");  // no `main` appeared
  CHECK(op_count(root) == ops);       // and jj saw nothing happen

  auto refused = run_fab(dir.path(), {"init", root.string(), "--trunk", "release"});
  CHECK(refused.exit_code == 1);
  CHECK(config_trunk(root) == "dev");
  auto other = run_fab(dir.path(), {"init", root.string(), "--trunk", "release", "--change-trunk"});
  REQUIRE(other.exit_code == 0);
  CHECK(config_trunk(root) == "release");
  CHECK(bookmarks(root) == "dev\nrelease\n");

  auto empty = run_fab(dir.path(), {"init", root.string(), "--trunk", ""});
  CHECK(empty.exit_code == 2);
  CHECK(config_trunk(root) == "release");
}

TEST_CASE("fab init in a git repository keeps its history and trunk is its current branch", "[cli][init][git]") {
  TempDir dir;
  auto root = make_git_repo(dir, "develop");
  const auto develop = trim(git(root, {"rev-parse", "develop"}));
  const auto feature = trim(git(root, {"rev-parse", "feature"}));

  auto init = run_fab(root, {"init"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  CHECK(init.err.find("(trunk: develop)") != std::string::npos);
  CHECK(config_trunk(root) == "develop");
  // The user's branches are jj bookmarks on the very same commits; no `main` was made up.
  CHECK(bookmarks(root) == "develop\nfeature\n");
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "develop", "-T", "commit_id"}) == develop);
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "feature", "-T", "commit_id"}) == feature);
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "::develop ~ root()", "-T", "description.first_line() ++ \"\\n\""}) ==
        "second\nfirst\n");
  // .factory/ is invisible to git as well as to jj.
  CHECK(git(root, {"status", "--porcelain", "--untracked-files=all"}).find(".factory") == std::string::npos);

  SECTION("a second init changes nothing") {
    const auto ops = op_count(root);
    auto again = run_fab(root, {"init"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    CHECK(config_trunk(root) == "develop");
    CHECK(bookmarks(root) == "develop\nfeature\n");
    CHECK(op_count(root) == ops);
  }

  SECTION("a blueprint without trunk: lands on the factory's trunk; one naming a missing trunk is refused") {
    write_file(dir / "bp.yaml", "name: demo\nagent:\n  plugin: shell\n  with: { command: \"true\" }\n");
    write_file(dir / "req.md", "## One\n");
    // blueprint check says which trunk that is, and --json has it.
    auto checked = run_fab(root, {"blueprint", "check", (dir / "bp.yaml").string(), "--json"});
    INFO(checked.err);
    CHECK(nlohmann::json::parse(checked.out).at("trunk") == "develop");
    auto said = run_fab(root, {"blueprint", "check", (dir / "bp.yaml").string()});
    CHECK(said.err.find("is valid (no trunk: it lands on this factory's, develop)") != std::string::npos);
    auto r = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto line = nlohmann::json::parse(r.out).at("line").get<std::string>();
    // The item's change sits on develop's head.
    const auto on_develop = jj_read(root, {"log", "--no-graph", "-r", "children(develop)", "-T", "description"});
    CHECK(on_develop.find("fab-line: " + line) != std::string::npos);

    write_file(dir / "bp2.yaml", "name: demo\ntrunk: main\nagent:\n  plugin: shell\n  with: { command: \"true\" }\n");
    const auto ops = op_count(root);
    auto bad = run_fab(root, {"stamp", (dir / "bp2.yaml").string(), (dir / "req.md").string()});
    CHECK(bad.exit_code == 1);
    CHECK(bad.err.find("Error: the blueprint's trunk bookmark 'main' does not exist") == 0);
    CHECK(bad.err.find("Hint: this factory's trunk is 'develop'") != std::string::npos);
    CHECK(op_count(root) == ops);
  }

  SECTION("the whole factory runs on it and merged work shows up in git") {
    write_file(dir / "bp.yaml",
               "name: demo\ntrunk: develop\nagent:\n  plugin: shell\n  with: { command: 'echo \"$FAB_ITEM_TITLE\" > "
               "\"$FAB_ITEM_ID.txt\"' }\n");
    write_file(dir / "req.md", "## One\n\nFirst.\n\n## Two\n\nDepends on: One\n\n## Three\n\nThird.\n");
    auto stamped = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "--json"});
    INFO(stamped.err);
    REQUIRE(stamped.exit_code == 0);
    const auto line = nlohmann::json::parse(stamped.out).at("line").get<std::string>();

    auto run = run_fab(root, {"run", "--until-idle"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    auto status = nlohmann::json::parse(run_fab(root, {"status", "--json"}).out);
    CHECK(status.at("counts").at("merged") == 3);

    // trunk moved forward from the user's last commit, in jj and in git alike.
    const auto trunk = jj_read(root, {"log", "--no-graph", "-r", "develop", "-T", "commit_id"});
    CHECK(trunk != develop);
    CHECK(trim(git(root, {"rev-parse", "refs/heads/develop"})) == trunk);
    CHECK(trim(git(root, {"merge-base", "--is-ancestor", develop, "refs/heads/develop"})).empty());
    for (int i = 1; i <= 3; ++i) {
      const auto file = line + "." + std::to_string(i) + ".txt";
      CHECK_FALSE(git(root, {"show", "refs/heads/develop:" + file}).empty());
    }
    CHECK(git(root, {"show", "refs/heads/develop:src.txt"}) == "code\n");
    CHECK(trim(git(root, {"rev-parse", "feature"})) == feature);
  }
}

TEST_CASE("fab init in a git repository without a current branch uses main", "[cli][init][git]") {
  TempDir dir;
  auto root = make_git_repo(dir, "master");
  git(root, {"checkout", "-q", "--detach", "master"});
  auto init = run_fab(root, {"init"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  CHECK(config_trunk(root) == "main");
  CHECK(bookmarks(root) == "feature\nmain\nmaster\n");
  // `main` is made where the user was: the checked-out commit.
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "main", "-T", "commit_id"}) ==
        trim(git(root, {"rev-parse", "HEAD"})));
}

TEST_CASE("fab init in a git repository with no commits yet", "[cli][init][git]") {
  TempDir dir;
  auto root = dir / "fresh";
  fs::create_directories(root);
  git(root, {"init", "-q", "-b", "trunk", "."});
  auto init = run_fab(root, {"init"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  CHECK(config_trunk(root) == "trunk");
  CHECK(bookmarks(root) == "trunk\n");
}

TEST_CASE("fab init in a directory of files no VCS knows makes them trunk's first commit", "[cli][init]") {
  TempDir dir;
  const auto root = dir / "project";
  fs::create_directories(root / "src");
  write_file(root / "README.md", "# project\n");
  write_file(root / "src" / "main.c", "int main(void) { return 0; }\n");
  auto r = run_fab(root, {"init"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(jj_read(root, {"file", "list", "-r", "main"}) == "README.md\nsrc/main.c\n");
  CHECK(jj_read(root, {"file", "show", "-r", "main", "root-file:\"src/main.c\""}) == "int main(void) { return 0; }\n");
  // The working copy is a new empty change on top of it; nothing of .factory/ was recorded.
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "@-", "-T", "bookmarks"}).find("main") != std::string::npos);
  CHECK(jj_read(root, {"file", "list", "-r", "main"}).find(".factory") == std::string::npos);
  // A second init records nothing more.
  const auto ops = op_count(root);
  REQUIRE(run_fab(root, {"init"}).exit_code == 0);
  CHECK(op_count(root) == ops);
}

TEST_CASE("fab init in an empty directory leaves trunk at the root commit", "[cli][init]") {
  TempDir dir;
  const auto root = dir / "empty";
  auto r = run_fab(dir.path(), {"init", root.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "main", "-T", "commit_id"}) == std::string(40, '0'));
}

// jj records no command for the operations `jj git init` makes, so fab init keeps their IDs: every
// operation of a new factory is fab's in `fab oplog`, and one the user makes is not.
TEST_CASE("fab oplog counts the operations that created the repo as fab init's", "[cli][init][oplog]") {
  TempDir dir;
  SECTION("a directory of files") {
    const auto root = dir / "project";
    fs::create_directories(root);
    write_file(root / "README.md", "# project\n");
    REQUIRE(run_fab(root, {"init"}).exit_code == 0);
    auto log = run_fab(root, {"oplog", "--json"});
    INFO(log.err);
    REQUIRE(log.exit_code == 0);
    int ops = 0;
    for (const auto& line : text_lines(log.out)) {
      auto op = nlohmann::json::parse(line);
      if (op.at("op").get<std::string>().find_first_not_of('0') == std::string::npos) continue;  // jj's root
      ++ops;
      INFO(line);
      CHECK(op.at("fab") == true);
      CHECK(op.at("cause").get<std::string>().starts_with("fab init"));
    }
    CHECK(ops >= 3);  // add workspace, snapshot/commit, trunk bookmark
    const auto text = run_fab(root, {"oplog"}).out;
    CHECK(text.find("(root)") != std::string::npos);
    CHECK(text.find("fab init (create the jj repo)") != std::string::npos);

    jj_read(root, {"bookmark", "create", "mine", "-r", "@-"});  // the user's own operation
    auto after = nlohmann::json::parse(text_lines(run_fab(root, {"oplog", "--json", "--limit", "1"}).out).at(0));
    CHECK(after.at("fab") == false);
    CHECK(run_fab(root, {"oplog", "--limit", "1"}).out.find("(not fab)") != std::string::npos);
  }
  SECTION("a git repository") {
    auto root = make_git_repo(dir, "main");
    REQUIRE(run_fab(root, {"init"}).exit_code == 0);
    auto log = run_fab(root, {"oplog", "--json"});
    REQUIRE(log.exit_code == 0);
    int ops = 0;
    for (const auto& line : text_lines(log.out)) {
      auto op = nlohmann::json::parse(line);
      if (op.at("op").get<std::string>().find_first_not_of('0') == std::string::npos) continue;
      ++ops;
      INFO(line);
      CHECK(op.at("fab") == true);
    }
    CHECK(ops >= 2);  // add workspace, import git refs (and head)
  }
}
