// `fab init`, `fab stamp`, `fab status`, `fab line`, `fab item`, through the real binary on real jj.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

const char* kBlueprint = R"(name: demo
slots: 2
agent:
  plugin: shell
  with: { command: "echo built > \"$FAB_ITEM_ID.txt\"" }
)";

std::string requirement(int n, const std::string& prefix = "Item") {
  std::string text = "# Req\n\nIntro text.\n\n";
  for (int i = 1; i <= n; ++i) {
    text += "## " + prefix + " " + std::to_string(i) + "\n\nBuild part " + std::to_string(i) + ".\n";
    if (i > 1) text += "Depends on: " + prefix + " " + std::to_string(i - 1) + "\n";
    text += "\n";
  }
  return text;
}

fs::path make_factory(const TempDir& dir) {
  auto root = dir / "repo";
  auto r = run_fab(dir.path(), {"init", root.string()});
  REQUIRE(r.exit_code == 0);
  write_file(dir / "bp.yaml", kBlueprint);
  return root;
}

}  // namespace

TEST_CASE("fab init makes a factory, twice is harmless, and .factory is never snapshotted", "[cli][init]") {
  TempDir dir;
  auto root = make_factory(dir);
  CHECK(fs::is_directory(root / ".jj"));
  CHECK(fs::is_directory(root / ".factory"));
  CHECK(jj_read(root, {"bookmark", "list", "-T", "name ++ \"\\n\""}) == "main\n");
  auto again = run_fab(dir.path(), {"init", root.string()});
  CHECK(again.exit_code == 0);
  CHECK(jj_read(root, {"bookmark", "list", "-T", "name ++ \"\\n\""}) == "main\n");

  write_file(root / ".factory" / "junk.txt", "state\n");
  write_file(root / "user.txt", "mine\n");
  // A snapshotting jj command, as the user would run it.
  auto st = fab::run_process({.argv = {jj_for_tests().string(), "--no-pager", "-R", root.string(), "diff", "--name-only"},
                              .cwd = root});
  REQUIRE(st);
  REQUIRE(st->ok());
  CHECK(st->out == "user.txt\n");
}

TEST_CASE("commands outside a factory say so and point at fab init", "[cli][errors]") {
  TempDir dir;
  for (auto verb : {"status", "run", "oplog"}) {
    auto r = run_fab(dir.path(), {verb});
    CHECK(r.exit_code == 1);
    CHECK(r.err.rfind("Error: ", 0) == 0);
    CHECK(r.err.find("not inside a fab factory") != std::string::npos);
    CHECK(r.err.find("Hint: run `fab init`") != std::string::npos);
  }
}

TEST_CASE("unknown verbs and bad usage exit 2", "[cli][errors]") {
  TempDir dir;
  auto r = run_fab(dir.path(), {"stmp"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("did you mean `fab stamp`?") != std::string::npos);
  auto u = run_fab(dir.path(), {"stamp"});
  CHECK(u.exit_code == 2);
  CHECK(u.err.rfind("Error: ", 0) == 0);
}

TEST_CASE("fab stamp gives every item its own jj change, the queue one stack on trunk", "[cli][stamp]") {
  TempDir dir;
  auto root = make_factory(dir);
  write_file(dir / "req.md", requirement(5));
  auto r = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j.at("blueprint") == "demo");
  const std::string line = j.at("line");
  REQUIRE(j.at("items").size() == 5);

  auto trunk = jj_read(root, {"log", "--no-graph", "-r", "main", "-T", "commit_id"});
  std::set<std::string> keys;
  // The queue is a stack: the last item on trunk, each other one on the next, so the first is the
  // line's only head in jj's view.
  std::string below = trunk;
  for (std::size_t i = j.at("items").size(); i-- > 0;) {
    const std::string change = j.at("items")[i].at("change_id");
    CHECK(jj_read(root, {"log", "--no-graph", "-r", change + "-", "-T", "commit_id"}) == below);
    CHECK(jj_read(root, {"log", "--no-graph", "-r", change, "-T", "empty"}) == "true");
    below = jj_read(root, {"log", "--no-graph", "-r", change, "-T", "commit_id"});
  }
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "heads(main::) ~ main ~ working_copies()", "-T", "change_id"}) ==
        j.at("items")[0].at("change_id").get<std::string>());
  for (const auto& item : j.at("items")) {
    for (auto it = item.begin(); it != item.end(); ++it) keys.insert(it.key());
    const std::string change = item.at("change_id");
    REQUIRE(change.size() == 32);
    auto desc = jj_read(root, {"log", "--no-graph", "-r", change, "-T", "description"});
    CHECK(desc.find(item.at("title").get<std::string>()) == 0);
    CHECK(desc.find("fab-line: " + line) != std::string::npos);
    CHECK(desc.find("fab-item: " + item.at("id").get<std::string>()) != std::string::npos);
    CHECK(item.at("state") == "queued");
  }
  for (auto k : {"id", "line", "title", "state", "change_id", "depends_on", "attempts", "drop_reason"}) {
    CHECK(keys.count(k) == 1);
  }
  CHECK(j.at("items")[1].at("depends_on") == nlohmann::json::array({line + ".1"}));

  auto status = run_fab(root, {"status", "--json"});
  REQUIRE(status.exit_code == 0);
  auto s = nlohmann::json::parse(status.out);
  CHECK(s.at("id") == line);
  CHECK(s.at("counts").at("queued") == 5);
  CHECK_FALSE(s.contains("blueprint_yaml"));

  auto human = run_fab(root, {"status"});
  CHECK(human.out.find(line) != std::string::npos);
  auto shown = run_fab(root, {"line", "show", line});
  CHECK(shown.out.find("Item 3") != std::string::npos);
  // An item can be found by a prefix of its change ID.
  auto change = j.at("items")[2].at("change_id").get<std::string>();
  auto by_change = run_fab(root, {"item", "show", change.substr(0, 10), "--json"});
  REQUIRE(by_change.exit_code == 0);
  CHECK(nlohmann::json::parse(by_change.out).at("id") == line + ".3");
}

TEST_CASE("fab stamp --dry-run validates and changes nothing", "[cli][stamp]") {
  TempDir dir;
  auto root = make_factory(dir);
  write_file(dir / "req.md", requirement(3));
  auto ops = op_count(root);
  auto r = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "--dry-run"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("Item 2") != std::string::npos);
  CHECK(op_count(root) == ops);
  CHECK(fs::is_empty(root / ".factory" / "lines"));
}

TEST_CASE("a bad blueprint or requirement is refused with its location and nothing is written", "[cli][stamp]") {
  TempDir dir;
  auto root = make_factory(dir);
  write_file(dir / "req.md", requirement(3));
  write_file(dir / "bad.yaml", "name: demo\nslots: 2\nrework_limt: 3\nagent:\n  plugin: shell\n");
  write_file(dir / "badreq.md", "## A\n\nDepends on: Nope\n\n## B\n");
  auto ops = op_count(root);

  auto r = run_fab(root, {"stamp", (dir / "bad.yaml").string(), (dir / "req.md").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("bad.yaml:3:1") != std::string::npos);
  CHECK(r.err.find("rework_limit") != std::string::npos);

  auto q = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "badreq.md").string()});
  CHECK(q.exit_code == 1);
  CHECK(q.err.find("badreq.md:3") != std::string::npos);
  CHECK(q.err.find("Nope") != std::string::npos);

  CHECK(op_count(root) == ops);
  CHECK(fs::is_empty(root / ".factory" / "lines"));
}

TEST_CASE("a stamp that fails after creating its changes abandons them", "[cli][stamp]") {
  TempDir dir;
  auto root = make_factory(dir);
  write_file(dir / "req.md", requirement(4));
  // The store's lock file is a directory: recording the line fails after the jj changes exist.
  fs::remove(root / ".factory" / "lock");
  fs::create_directory(root / ".factory" / "lock");
  auto r = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string()});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("abandoned") != std::string::npos);
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "description(glob:\"*fab-line:*\")", "-T", "change_id"}).empty());
  fs::remove(root / ".factory" / "lock");
  CHECK(fs::is_empty(root / ".factory" / "lines"));
}

TEST_CASE("two fab stamp at once both land intact", "[cli][stamp][concurrency]") {
  TempDir dir;
  auto root = make_factory(dir);
  write_file(dir / "a.md", requirement(15, "Alpha"));
  write_file(dir / "b.md", requirement(15, "Beta"));
  FabRun results[2];
  auto stamp = [&](int i, const char* req) {
    auto args = std::vector<std::string>{(bin_dir() / "fab").string(), "stamp", (dir / "bp.yaml").string(),
                                         (dir / req).string(), "--json"};
    auto p = fab::run_process({.argv = args, .cwd = root});
    results[i] = p ? FabRun{p->exit_code, p->out, p->err} : FabRun{-1, "", p.error().render()};
  };
  std::thread t1(stamp, 0, "a.md");
  std::thread t2(stamp, 1, "b.md");
  t1.join();
  t2.join();
  std::set<std::string> changes;
  for (auto& r : results) {
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.at("items").size() == 15);
    for (const auto& item : j.at("items")) changes.insert(item.at("change_id").get<std::string>());
  }
  CHECK(changes.size() == 30);
  auto listed = run_fab(root, {"status", "--json"});
  std::istringstream lines(listed.out);
  int n = 0;
  for (std::string l; std::getline(lines, l);) {
    CHECK(nlohmann::json::parse(l).at("counts").at("queued") == 15);
    ++n;
  }
  CHECK(n == 2);
  for (const auto& c : changes) CHECK(jj_read(root, {"log", "--no-graph", "-r", c, "-T", "change_id"}) == c);
}

TEST_CASE("a relative -C directory is applied once for every verb", "[cli][errors]") {
  TempDir dir;
  auto root = make_factory(dir);  // dir/repo
  write_file(dir / "req.md", requirement(2));
  // Paths given after -C are relative to the new directory, as with git -C.
  auto stamped = run_fab(dir.path(), {"-C", "repo", "stamp", "../bp.yaml", "../req.md"});
  INFO(stamped.err);
  REQUIRE(stamped.exit_code == 0);
  for (auto verb : {std::vector<std::string>{"status"}, {"oplog", "--limit", "3"}, {"recover"},
                    {"run", "--until-idle"}}) {
    verb.insert(verb.begin(), {"-C", "repo"});
    auto r = run_fab(dir.path(), verb);
    INFO(verb[2] << ": " << r.err);
    CHECK(r.exit_code == 0);
  }
  auto status = run_fab(dir.path(), {"-C", "repo", "status", "--json"});
  CHECK(nlohmann::json::parse(status.out).at("counts").at("merged") == 2);
}

TEST_CASE("a line of 10,000 items: recovery reads it and line drop abandons it, though its revsets outgrow one argument",
          "[cli][stamp][big]") {
  // 10,000 change IDs are ~130 KB as one `a|b|...` revset and ~250 KB as `change_id(a) | ...`:
  // Linux refuses one argument over 128 KiB (E2BIG), so fab cuts such revsets in pieces.
  TempDir dir;
  auto root = make_factory(dir);
  std::string text = "# Big\n\n";
  for (int i = 1; i <= 10000; ++i) text += "## Item " + std::to_string(i) + "\n\nPart " + std::to_string(i) + ".\n\n";
  write_file(dir / "big.md", text);
  auto stamped = run_fab(root, {"-q", "stamp", (dir / "bp.yaml").string(), (dir / "big.md").string()});
  INFO(stamped.err.substr(0, 2000));
  REQUIRE(stamped.exit_code == 0);
  auto status = run_fab(root, {"status", "--json"});
  REQUIRE(status.exit_code == 0);
  const auto line = nlohmann::json::parse(status.out);
  CHECK(line.at("counts").at("queued") == 10000);

  auto recovered = run_fab(root, {"recover"});  // reads where every item's change is
  INFO(recovered.err.substr(0, 2000));
  CHECK(recovered.exit_code == 0);
  CHECK(recovered.err.find("Argument list too long") == std::string::npos);

  auto dropped = run_fab(root, {"line", "drop", line.at("id").get<std::string>()});
  INFO(dropped.err.substr(0, 2000));
  CHECK(dropped.exit_code == 0);
  // Every item's change is gone: only trunk's history is left below the heads.
  CHECK(jj_read(root, {"log", "--no-graph", "-r", "mutable() ~ working_copies()", "-T", "change_id ++ \"\\n\""}).empty());
}
