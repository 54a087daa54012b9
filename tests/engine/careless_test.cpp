// Careless agents, through `fab run`, on a factory made by `fab init` in a user's git repository
// (colocated): in each case item 1's agent does something careless and item 2's is good. Each
// case checks that the user's checkout, index, HEAD and branches are as the user left them; that
// trunk is a straight line holding the user's history; that the careless item either lands with
// every file it wrote or does not land and its record names what went wrong; that the good item
// lands; and that no process is left.
#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "substrate/git_version.h"
#include "substrate/process.h"
#include "tests/engine/engine_fixture.h"
#include "workgraph/factory.h"

namespace fab::test {
namespace {

namespace fs = std::filesystem;

std::string git(const fs::path& dir, std::vector<std::string> args, bool must = true) {
  args.insert(args.begin(), {"git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c",
                             "init.defaultBranch=main", "-c", "advice.detachedHead=false"});
  auto r = run_process({.argv = args, .cwd = dir});
  REQUIRE(r);
  INFO(r->err);
  if (must) REQUIRE(r->ok());
  return r->out;
}

// Every file of the user's checkout (not .git/, .jj/, .factory/): path -> content.
std::map<std::string, std::string> checkout_files(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const auto rel = fs::relative(it->path(), root).string();
    if (rel == ".git" || rel == ".jj" || rel == ".factory") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files[rel] = read_file(it->path());
  }
  return files;
}

// What the user has: their files, git's status and index, HEAD, and every branch but trunk.
struct UserState {
  std::map<std::string, std::string> files;
  std::string status, index, head, branches, trunk;
  bool operator==(const UserState&) const = default;
};

UserState user_state(const fs::path& root) {
  UserState s;
  s.files = checkout_files(root);
  s.status = git(root, {"status", "--porcelain=v1", "--untracked-files=all"});
  s.index = git(root, {"ls-files", "--stage"});
  s.head = git(root, {"rev-parse", "HEAD"});
  std::istringstream refs(git(root, {"for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"}));
  for (std::string l; std::getline(refs, l);) {
    if (l.rfind("refs/heads/main ", 0) != 0) s.branches += l + "\n";
  }
  s.trunk = git(root, {"rev-parse", "main"});
  return s;
}

// The pids of processes whose working directory is under `dir` (an agent's leftovers run there).
std::vector<pid_t> processes_in(const fs::path& dir) {
  std::vector<pid_t> pids;
  const auto prefix = fs::weakly_canonical(dir).string();
  for (const auto& e : fs::directory_iterator("/proc")) {
    const auto name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    const auto cwd = fs::read_symlink(e.path() / "cwd", ec).string();
    if (!ec && cwd.rfind(prefix, 0) == 0) pids.push_back(static_cast<pid_t>(std::stoi(name)));
    const auto cmdline = e.path() / "cmdline";
    std::ifstream in(cmdline, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find(prefix) != std::string::npos && static_cast<pid_t>(std::stoi(name)) != ::getpid()) {
      pids.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

struct Case {
  std::string careless;              // item 1's agent (sh); "$FAB_JJ" is the test's jj
  std::map<std::string, std::string> lands;  // item 1 lands with (at least) these files
  std::string fails;                 // ... or does not land, and its record says this
  std::string inspect;               // an inspector command, if any
  std::string extra_yaml;            // more blueprint keys
  bool touches_checkout = false;     // item 1 writes into the user's checkout on purpose
  int timeout = 60;                  // the agent's, in seconds
  std::function<void(const fs::path& root)> before;  // what the user does before the run (state taken after)
  std::function<void(const fs::path& root, const std::string& line, const ProcessResult& run)> check;
};

class CarelessFactory {
 public:
  CarelessFactory() : m_root(m_dir / "project") {
    fs::create_directories(m_root);
    write_file(m_root / "README.md", "the user's project\n");
    write_file(m_root / "USERFILE", "committed by the user\n");
    git(m_root, {"init", "-q", "-b", "main", "."});
    git(m_root, {"add", "README.md", "USERFILE"});
    git(m_root, {"commit", "-q", "-m", "the user's first commit"});
    git(m_root, {"branch", "feature"});
    auto init = fab({"init", "."});
    INFO(init.err);
    REQUIRE(init.ok());
    // The user goes on working: a file staged, one untracked, one edited but not staged.
    write_file(m_root / "STAGED", "staged by the user\n");
    git(m_root, {"add", "STAGED"});
    write_file(m_root / "UNTRACKED", "not tracked\n");
    write_file(m_root / "USERFILE", "edited, not staged\n");
  }
  const fs::path& root() const { return m_root; }
  const fs::path& dir() const { return m_dir.path(); }

  ProcessResult fab(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) const {
    ProcessSpec spec;
    spec.argv = {(bin_dir() / "fab").string(), "-C", m_root.string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = std::move(env);
    spec.timeout = std::chrono::minutes(3);
    auto r = run_process(spec);
    REQUIRE(r);
    return *r;
  }
  Factory factory() const {
    auto f = Factory::open(m_root);
    REQUIRE(f);
    return std::move(*f);
  }
  std::string jj(const std::vector<std::string>& args) const {
    auto r = factory().repo().run(args);
    REQUIRE(r);
    return r->out;
  }

 private:
  TempDir m_dir;
  fs::path m_root;
};

std::string blueprint(const Case& c, const fs::path& dir) {
  const std::string agent = "case \"$FAB_ITEM_TITLE\" in\n\"Item 1\")\n" + c.careless +
                            "\n;;\n*) echo good > \"good-$FAB_ITEM_ID.txt\" ;;\nesac\n";
  std::string y = "name: careless\nslots: 2\nrework_limit: 1\nagent:\n  plugin: shell\n  timeout: " +
                  std::to_string(c.timeout) + "\n  with:\n    command: " + nlohmann::json(agent).dump() + "\n";
  if (!c.inspect.empty()) y += "inspect:\n  - plugin: command\n    with:\n      command: " + nlohmann::json(c.inspect).dump() + "\n";
  y += c.extra_yaml;
  (void)dir;
  return y;
}

// Item 1's whole record: its state, drop reason, feedback and journal.
std::string record_of(Factory& factory, const Item& item) {
  std::string text = std::string(to_string(item.state)) + "\n" + item.drop_reason + "\n" + item.feedback + "\n";
  auto journal = factory.store().journal(item.line);
  if (journal) {
    for (const auto& r : *journal) {
      if (r.str("item") == item.id) text += r.to_json().dump() + "\n";
    }
  }
  const auto items = factory.store().line_dir(item.line) / "items" / item.id;
  std::error_code ec;
  for (fs::directory_iterator it(items, ec), end; !ec && it != end; it.increment(ec)) text += read_file(it->path());
  return text;
}

void run_case(const Case& c) {
  CarelessFactory f;
  if (c.before) c.before(f.root());
  const auto before = user_state(f.root());
  const auto trunk_before = git(f.root(), {"rev-parse", "main"});
  write_file(f.dir() / "bp.yaml", blueprint(c, f.dir()));
  write_file(f.dir() / "req.md", "# Req\n\n## Item 1\n\nThe careless one.\n\n## Item 2\n\nThe good one.\n");
  auto stamp = f.fab({"stamp", (f.dir() / "bp.yaml").string(), (f.dir() / "req.md").string(), "--json"});
  INFO(stamp.err);
  REQUIRE(stamp.ok());
  const auto line = nlohmann::json::parse(stamp.out).at("line").get<std::string>();
  auto run = f.fab({"run", "--until-idle"}, {{"FAB_TEST_SECRET", "s3cr3t-value-42"},
                                             {"FAB_TEST_USER_ROOT", f.root().string()},
                                             {"FAB_TEST_BIN", bin_dir().string()}});
  INFO(run.err);
  REQUIRE(run.ok());

  // The user's checkout, index, HEAD and branches are as they were; trunk moved forward only.
  const auto after = user_state(f.root());
  if (!c.touches_checkout) {
    CHECK(after.files == before.files);
    CHECK(after.status == before.status);
  }
  CHECK(after.index == before.index);
  CHECK(after.head == before.head);
  CHECK(after.branches == before.branches);
  git(f.root(), {"merge-base", "--is-ancestor", trunk_before.substr(0, 40), "main"});
  // jj and git agree on trunk, which is a straight line over the user's history.
  auto factory = f.factory();
  const auto jj_trunk = f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"});
  CHECK(jj_trunk + "\n" == git(f.root(), {"rev-parse", "main"}));
  CHECK(f.jj({"log", "--no-graph", "-r", "::main & merges()", "-T", "commit_id"}).empty());
  CHECK(f.jj({"log", "--no-graph", "-r", "::main & description(substring:\"the user's first commit\")", "-T", "commit_id"})
            .size() == 40);

  auto rec = factory.store().load_line(line);
  REQUIRE(rec);
  const Item& careless = rec->items.at(0);
  const Item& good = rec->items.at(1);
  const auto record = record_of(factory, careless);
  INFO("item 1's record:\n" << record);
  INFO("item 2's record:\n" << record_of(factory, good));
  // The good item lands beside it.
  CHECK(good.state == ItemState::merged);
  CHECK(f.jj({"file", "show", "-r", "main", "root-file:\"good-" + good.id + ".txt\""}) == "good\n");
  // The careless item lands with what it wrote, or its record says why not.
  if (c.fails.empty()) {
    CHECK(careless.state == ItemState::merged);
    for (const auto& [path, content] : c.lands) {
      INFO(path);
      CHECK(f.jj({"file", "show", "-r", "main", "root-file:" + revset_string(path)}) == content);
    }
  } else {
    CHECK(careless.state != ItemState::merged);
    CHECK(record.find(c.fails) != std::string::npos);
    REQUIRE(careless.change);
    CHECK(f.jj({"log", "--no-graph", "-r", "present(" + careless.change->str() + ") & ::main", "-T", "change_id"}).empty());
  }
  // Each change once on trunk.
  for (const auto& item : rec->items) {
    if (item.state != ItemState::merged) continue;
    CHECK(f.jj({"log", "--no-graph", "-r", "change_id(" + item.change->str() + ") & ::main", "-T", "change_id ++ \"\\n\""})
              .size() == 33);
  }
  // No process left: nothing runs in the factory or in fab's state directory.
  CHECK(processes_in(f.dir()).empty());
  if (c.check) c.check(f.root(), line, run);
}

// A branch `side` of the user's with a file of its own (SIDE.txt), made without touching the
// checkout, and taken into jj.
void make_side_branch(const fs::path& root) {
  const std::string script =
      "set -e; export GIT_INDEX_FILE=.git/side-index; git read-tree main; "
      "blob=$(echo \"the side's file\" | git hash-object -w --stdin); "
      "git update-index --add --cacheinfo 100644,$blob,SIDE.txt; tree=$(git write-tree); rm -f .git/side-index; "
      "c=$(git -c user.name=Dev -c user.email=dev@example.com commit-tree $tree -p main -m side); git branch side $c";
  auto made = run_process({.argv = {"sh", "-c", script}, .cwd = root});
  REQUIRE(made);
  INFO(made->err);
  REQUIRE(made->ok());
  auto f = Factory::open(root);
  REQUIRE(f);
  REQUIRE(f->repo().git_import());
}

// The side branch's file is not on trunk, and no item's change deleted the user's files.
void check_trunk_without_side(const Factory& f) {
  auto listed = f.repo().run({"file", "list", "-r", "main"});
  REQUIRE(listed);
  CHECK(listed->out.find("SIDE.txt") == std::string::npos);
  CHECK(listed->out.find("USERFILE") != std::string::npos);
  CHECK(listed->out.find("README.md") != std::string::npos);
}

// The agent's own jj call (the test's jj binary); the agent stops if jj fails, so each case
// exercises what it says.
std::string jj_call(const std::string& args) {
  return "'" + jj_for_tests().string() + "' --config user.name=agent --config user.email=agent@example.com " + args +
         " || { echo 'the agent: jj failed'; exit 3; }";
}

}  // namespace

// --- git in the workspace: there is none (git < 2.54), and the user's is never reached ------------
// (These run with the machine's git on PATH; on Debian 12 that is 2.39. The same rows run again
// below with scripts/bootstrap's newer git, where each workspace is a git worktree.)

TEST_CASE("careless: git add -A && git commit in the workspace never reaches the user's repository", "[engine][careless]") {
  if (fab::git_supports_worktrees()) {
    WARN("the git on PATH gives workspaces a worktree: the rows below test that");
    return;
  }
  run_case({.careless = "echo mine > careless.txt\ngit add -A && git commit -qm x\ngit status 2> git-said.txt; true",
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto said = f->repo().run({"file", "show", "-r", "main", "root-file:\"git-said.txt\""});
              REQUIRE(said);
              CHECK(said->out.find("not a git repository") != std::string::npos);
            }});
}

TEST_CASE("careless: git checkout, reset --hard, stash and branch in the workspace touch nothing of the user's",
          "[engine][careless]") {
  if (fab::git_supports_worktrees()) {
    WARN("the git on PATH gives workspaces a worktree: the rows below test that");
    return;
  }
  run_case({.careless = "echo mine > careless.txt\ngit checkout -b evil; git reset --hard; git stash; git branch evil2; true",
            .lands = {{"careless.txt", "mine\n"}}});
}

// --- git in the workspace, with a git that makes it a worktree (scripts/bootstrap's .deps/bin/git) --
// The newer git first on PATH: fab's, jj's, the agents' and the user's (this test's) git alike (a
// git >= 2.48 marks the repository with extensions.relativeWorktrees, which older git cannot read).
// CI always runs scripts/bootstrap: without its git these fail, they do not skip.

namespace {

class NewGitOnPath {
 public:
  NewGitOnPath() {
    const auto git = jj_for_tests().parent_path() / "git";
    INFO("scripts/bootstrap installs git >= 2.54 as " << git.string());
    REQUIRE(fs::exists(git));
    const char* path = std::getenv("PATH");
    m_old = path ? path : "";
    ::setenv("PATH", (git.parent_path().string() + ":" + m_old).c_str(), 1);
    auto v = run_process({.argv = {"git", "--version"}});
    REQUIRE(v);
    REQUIRE(v->ok());
    int major = 0, minor = 0;
    REQUIRE(std::sscanf(v->out.c_str(), "git version %d.%d", &major, &minor) == 2);
    INFO(v->out);
    REQUIRE((major > 2 || (major == 2 && minor >= 42)));
  }
  ~NewGitOnPath() { ::setenv("PATH", m_old.c_str(), 1); }

 private:
  std::string m_old;
};

// No git worktree of a pool workspace is left in the user's repository.
void check_no_worktree_left(const fs::path& root) {
  const auto list = git(root, {"worktree", "list", "--porcelain"});
  INFO(list);
  std::size_t worktrees = 0;
  for (std::size_t at = list.find("worktree "); at != std::string::npos; at = list.find("\nworktree ", at + 1)) ++worktrees;
  CHECK(worktrees == 1);  // the user's own checkout
  CHECK(list.find("/pool/") == std::string::npos);
  std::error_code ec;
  CHECK((!fs::exists(root / ".git" / "worktrees", ec) || fs::is_empty(root / ".git" / "worktrees", ec)));
}

// No tag, and no branch matching `branches` (a for-each-ref pattern), in the user's repository.
void check_no_agent_refs(const fs::path& root, const std::string& branches) {
  CHECK(git(root, {"tag", "--list"}).empty());
  CHECK(git(root, {"for-each-ref", branches}).empty());
}

// A git call of the agent's: it must work (the workspace is a worktree), or the agent stops.
std::string git_call(const std::string& args) {
  return "git -c user.name=agent -c user.email=agent@example.com " + args + " || { echo 'the agent: git " + args +
         " failed'; exit 3; }";
}

}  // namespace

TEST_CASE("careless, own worktree: git status, add and commit in the workspace work, and the commits land as the item's change",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt\n" + git_call("status --porcelain") + "\n" + git_call("add -A") + "\n" +
                        git_call("commit -qm 'the agent commits'") + "\necho two > two.txt\n" + git_call("add two.txt") +
                        "\n" + git_call("commit -qm 'and again'") + "\necho three > three.txt\n" +
                        "git rev-parse --is-inside-work-tree > inside.txt",
            .lands = {{"careless.txt", "mine\n"}, {"two.txt", "two\n"}, {"three.txt", "three\n"}, {"inside.txt", "true\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto rec = f->store().load_line(line);
              REQUIRE(rec);
              // The item's own change, with fab's description; the agent's commits are not on trunk.
              const auto& item = rec->items.at(0);
              auto c = f->repo().commit(*item.change);
              REQUIRE(c);
              CHECK(c->description.find("fab-item: " + line + ".1") != std::string::npos);
              auto r = f->repo().run({"log", "--no-graph", "-r", "::main & description(substring:\"the agent commits\")", "-T",
                                      "commit_id"});
              REQUIRE(r);
              CHECK(r->out.empty());
              CHECK(read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt")
                        .find("made with git") != std::string::npos);
              check_no_worktree_left(root);
            }});
}

TEST_CASE("careless, own worktree: git checkout -b, reset --hard, stash, branch and tag work there and are put back",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt\n" + git_call("add careless.txt") + "\n" + git_call("commit -qm one") +
                        "\n" + git_call("checkout -q -b evil") + "\necho two > two.txt\n" + git_call("add two.txt") + "\n" +
                        git_call("commit -qm two") + "\necho three > three.txt\n" + git_call("stash -u -q") + "\n" +
                        git_call("branch evil2") + "\n" + git_call("tag evil-tag") + "\necho four > four.txt\n" +
                        git_call("reset -q --hard") + "\ngit status --porcelain > status.txt",
            .lands = {{"careless.txt", "mine\n"}, {"two.txt", "two\n"}, {"four.txt", "four\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              CHECK(git(root, {"tag", "--list"}).empty());
              CHECK(git(root, {"stash", "list"}).empty());
              CHECK(git(root, {"for-each-ref", "refs/heads/evil", "refs/heads/evil2"}).empty());
              auto f = Factory::open(root);
              REQUIRE(f);
              for (const char* name : {"evil", "evil2"}) {
                auto b = f->repo().bookmark(name);
                REQUIRE(b);
                CHECK_FALSE(b->has_value());
              }
              // What it stashed is not on disk, so not in its change.
              auto r = f->repo().run({"file", "list", "-r", "main"});
              REQUIRE(r);
              CHECK(r->out.find("three.txt") == std::string::npos);
              const auto undone = read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt");
              CHECK(undone.find("branch evil") != std::string::npos);
              CHECK(undone.find("refs/stash") != std::string::npos);
              check_no_worktree_left(root);
            }});
}

TEST_CASE("careless, own worktree: a workspace deleted by its agent leaves no worktree in the user's repository",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt\ncd .. && rm -rf \"$FAB_WORKSPACE\"",
            .fails = "deleted its workspace",
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) { check_no_worktree_left(root); }});
}

// git that cannot remove a gone workspace's worktree (here a wrapper that refuses `git worktree
// remove` and the `git worktree prune` jj runs when it forgets a workspace; for real: a full disk,
// an admin directory git may not delete) costs a warning, not the run: the good item lands, the
// run exits 0, and `fab gc` with a working git removes what was left.
TEST_CASE("careless, own worktree: a worktree git cannot remove is said and left to fab gc, and the run goes on",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  TempDir wrapper;
  const auto real = jj_for_tests().parent_path() / "git";
  write_file(wrapper.path() / "git", "#!/bin/sh\ncase \"$*\" in *'worktree remove'*|*'worktree prune'*) echo 'fatal: refused by the test' >&2; "
                                     "exit 128 ;; esac\nexec '" + real.string() + "' \"$@\"\n");
  fs::permissions(wrapper.path() / "git", fs::perms::owner_all);
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", (wrapper.path().string() + ":" + path).c_str(), 1);
  run_case({.careless = "echo mine > careless.txt\ncd .. && rm -rf \"$FAB_WORKSPACE\"",
            .fails = "deleted its workspace",
            .check = [&](const fs::path& root, const std::string&, const ProcessResult& run) {
              CHECK(run.err.find("could not remove the git worktrees of gone workspaces (fab gc tries again)") !=
                    std::string::npos);
              CHECK(run.err.find("refused by the test") != std::string::npos);
              const auto list = git(root, {"worktree", "list", "--porcelain"});
              INFO(list);
              CHECK(list.find("/pool/") != std::string::npos);  // left: git would not remove it
              ::setenv("PATH", path.c_str(), 1);  // git works again
              auto gc = run_process({.argv = {(bin_dir() / "fab").string(), "-C", root.string(), "gc"}});
              REQUIRE(gc);
              INFO(gc->out << gc->err);
              CHECK(gc->ok());
              check_no_worktree_left(root);
            }});
  ::setenv("PATH", path.c_str(), 1);
}

TEST_CASE("careless, own worktree: the branches and tags of an agent that then deletes its workspace are put back",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt\n" + git_call("add careless.txt") + "\n" + git_call("commit -qm one") +
                        "\n" + git_call("branch left-behind") + "\n" + git_call("tag left-tag") +
                        "\ncd .. && rm -rf \"$FAB_WORKSPACE\"",
            .fails = "deleted its workspace",
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              check_no_agent_refs(root, "refs/heads/left-behind");
              auto f = Factory::open(root);
              REQUIRE(f);
              auto b = f->repo().bookmark("left-behind");
              REQUIRE(b);
              CHECK_FALSE(b->has_value());
              check_no_worktree_left(root);
            }});
}

TEST_CASE("careless, own worktree: an inspector's branches and tags are put back, and the item lands",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt",
            .lands = {{"careless.txt", "mine\n"}},
            .inspect = "git branch \"inspected-$FAB_ITEM_ID\" && git tag \"tag-$FAB_ITEM_ID\"",
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              check_no_agent_refs(root, "refs/heads/inspected-*");
              auto f = Factory::open(root);
              REQUIRE(f);
              const auto undone = read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt");
              CHECK(undone.find("branch inspected-" + line + ".1") != std::string::npos);
              check_no_worktree_left(root);
            }});
}

TEST_CASE("careless, own worktree: an agent's git stash over the user's own stash leaves the user's stash list as it was",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  auto stash = std::make_shared<std::string>();
  run_case({.careless = "echo stashed > stashed.txt\n" + git_call("stash -u -q") + "\necho mine > careless.txt",
            .lands = {{"careless.txt", "mine\n"}},
            .before = [stash](const fs::path& root) {
              git(root, {"stash", "push", "-q", "--", "USERFILE"});
              *stash = git(root, {"stash", "list", "--format=%H %gs"});
            },
            .check = [stash](const fs::path& root, const std::string&, const ProcessResult&) {
              REQUIRE_FALSE(stash->empty());
              CHECK(git(root, {"stash", "list", "--format=%H %gs"}) == *stash);
              check_no_worktree_left(root);
            }});
}

TEST_CASE("careless, own worktree: an agent's git update-ref of trunk is put back and its commit lands only as its item",
          "[engine][careless][worktree]") {
  NewGitOnPath git_on_path;
  REQUIRE(fab::git_supports_worktrees());
  run_case({.careless = "echo mine > careless.txt\n" + git_call("add careless.txt") + "\n" +
                        git_call("commit -qm 'the agent moves trunk'") + "\n" + git_call("update-ref refs/heads/main HEAD") +
                        "\nsleep 3\necho later > later.txt",
            .lands = {{"careless.txt", "mine\n"}, {"later.txt", "later\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              // The agent's git commit is not on trunk as a commit of its own: only the item's change is.
              auto r = f->repo().run({"log", "--no-graph", "-r",
                                      "::main & description(substring:\"the agent moves trunk\")", "-T", "commit_id"});
              REQUIRE(r);
              CHECK(r->out.empty());
              const auto undone = read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt");
              // Put back while the call still ran (fab looks every second; the agent sleeps 3 s after
              // the move), before jj or the other item could take it as a user's commit.
              CHECK(undone.find("moved git's trunk branch main back") != std::string::npos);
              check_no_worktree_left(root);
            }});
}

// --- git 2.42 to 2.53: `jj workspace add --colocate` would work, but fab could not put back the
// branches an agent makes there, so it makes no worktree. The git on PATH says it is 2.47 (a
// wrapper: `--version` answers 2.47.3, everything else runs bootstrap's real git, which would make
// a working worktree if fab asked for one).

TEST_CASE("careless, git 2.47 on PATH: no worktree, git in the workspace says not a git repository, doctor says why",
          "[engine][careless][worktree]") {
  const auto real = jj_for_tests().parent_path() / "git";
  INFO("scripts/bootstrap installs git >= 2.54 as " << real.string());
  REQUIRE(fs::exists(real));
  TempDir fake;
  write_file(fake / "git", "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'git version 2.47.3'; exit 0; fi\nexec '" +
                               real.string() + "' \"$@\"\n");
  fs::permissions(fake / "git", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  const char* path = std::getenv("PATH");
  const std::string old_path = path ? path : "";
  struct RestorePath {
    std::string path;
    ~RestorePath() { ::setenv("PATH", path.c_str(), 1); }
  } restore{old_path};
  ::setenv("PATH", (fake.path().string() + ":" + old_path).c_str(), 1);
  auto v = fab::git_version();
  REQUIRE(v);
  CHECK(v->short_version() == "2.47");
  CHECK_FALSE(fab::git_supports_worktrees());
  CHECK(fab::git_worktrees().why_not.find("older than 2.54") != std::string::npos);

  run_case({.careless = "echo mine > careless.txt\ngit status 2> git-said.txt; git branch from-the-agent 2>> git-said.txt; true",
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto said = f->repo().run({"file", "show", "-r", "main", "root-file:\"git-said.txt\""});
              REQUIRE(said);
              CHECK(said->out.find("not a git repository") != std::string::npos);
              CHECK(git(root, {"for-each-ref", "refs/heads/from-the-agent"}).empty());
              check_no_worktree_left(root);
              ProcessSpec spec{.argv = {(bin_dir() / "fab").string(), "-C", root.string(), "doctor"}};
              auto doctor = run_process(spec);
              REQUIRE(doctor);
              INFO(doctor->out << doctor->err);
              CHECK(doctor->out.find("git 2.47 is older than 2.54") != std::string::npos);
            }});
}

// --- jj in the workspace ----------------------------------------------------------------------------

TEST_CASE("careless: jj bookmark set trunk to root() is put back and trunk keeps the user history", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("bookmark set main -r 'root()' --allow-backwards"),
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              CHECK(read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt")
                        .find("main") != std::string::npos);
            }});
}

TEST_CASE("careless: an agent moving trunk to its own change does not land it past a failing inspector",
          "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("bookmark set main -r @"),
            .fails = "inspector command failed",
            .inspect = "test \"$FAB_ITEM_TITLE\" != \"Item 1\""});
}

TEST_CASE("careless: an operation an agent dresses up with fab's cause is not shown as fab's", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" +
                        jj_call("--config 'fab.cause=\"zzzzzz zzzzzz.1: refining -> merged\"' describe -m forged"),
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              ProcessSpec spec{.argv = {(bin_dir() / "fab").string(), "-C", root.string(), "oplog", "--json"}};
              auto log = run_process(spec);
              REQUIRE(log);
              REQUIRE(log->ok());
              bool seen = false;
              std::istringstream in(log->out);
              for (std::string l; std::getline(in, l);) {
                auto j = nlohmann::json::parse(l);
                if (j.value("command", std::string{}).find("forged") == std::string::npos) continue;
                seen = true;
                INFO(l);
                CHECK(j["fab"] == false);
                CHECK(j["line"].is_null());
              }
              CHECK(seen);
            }});
}

TEST_CASE("careless: files written after jj new land with the item", "[engine][careless]") {
  run_case({.careless = "echo one > one.txt\n" + jj_call("new") + "\necho two > two.txt",
            .lands = {{"one.txt", "one\n"}, {"two.txt", "two\n"}}});
}

TEST_CASE("careless: jj commit and more files all land under the fab description", "[engine][careless]") {
  run_case({.careless = "echo one > one.txt\n" + jj_call("commit -m mine") + "\necho two > two.txt",
            .lands = {{"one.txt", "one\n"}, {"two.txt", "two\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto rec = f->store().load_line(line);
              REQUIRE(rec);
              auto c = f->repo().commit(*rec->items.at(0).change);
              REQUIRE(c);
              CHECK(c->description.find("fab-item: " + line + ".1") != std::string::npos);
            }});
}

TEST_CASE("careless: jj abandon @ then new files: the item keeps its change and lands what is on disk",
          "[engine][careless]") {
  run_case({.careless = "echo gone > gone.txt\n" + jj_call("abandon @") + "\necho after > after.txt",
            .lands = {{"after.txt", "after\n"}}});
}

TEST_CASE("careless: jj squash into the trunk commit is folded back and the user commit is unchanged", "[engine][careless]") {
  run_case({.careless = "echo mine > squashed.txt\n" + jj_call("squash --use-destination-message"),
            .lands = {{"squashed.txt", "mine\n"}}});
}

TEST_CASE("careless: jj describe is undone and the change keeps fab's description and trailers", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("describe -m 'my own words'"),
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto rec = f->store().load_line(line);
              REQUIRE(rec);
              auto c = f->repo().commit(*rec->items.at(0).change);
              REQUIRE(c);
              CHECK(c->description.find("my own words") == std::string::npos);
              CHECK(c->description.find("fab-line: " + line) != std::string::npos);
            }});
}

TEST_CASE("careless: jj rebase of its change onto root() is moved back, with its files", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("rebase -r @ -o 'root()'"),
            .lands = {{"careless.txt", "mine\n"}, {"README.md", "the user's project\n"}}});
}

TEST_CASE("careless: jj edit of trunk's commit: trunk is put back and the item's record says what happened",
          "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("edit main") + "\necho more > more.txt",
            .lands = {{"more.txt", "more\n"}}});
}

TEST_CASE("careless: a bookmark the agent creates is deleted", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("bookmark create agent-was-here -r @"),
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              CHECK(git(root, {"for-each-ref", "refs/heads/agent-was-here"}).empty());
              auto f = Factory::open(root);
              REQUIRE(f);
              auto b = f->repo().bookmark("agent-was-here");
              REQUIRE(b);
              CHECK_FALSE(b->has_value());
            }});
}

TEST_CASE("careless: jj workspace forget of its own workspace", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("workspace forget"),
            .lands = {{"careless.txt", "mine\n"}}});
}

// The agent moves its change to another parent without updating its working copy (`jj
// --ignore-working-copy rebase`): the files on disk are still written on the old parent. fab makes
// the workspace again and puts the agent's edits (and only those) onto where the change now is, so
// no file of the old parent is put back there and none of the new one is recorded as deleted.
TEST_CASE("careless: jj --ignore-working-copy rebase of its own change: only its edits move with it", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("--ignore-working-copy rebase -r @ -o side"),
            .lands = {{"careless.txt", "mine\n"}},
            .before = make_side_branch,
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              const auto undone = read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.undone.txt");
              INFO(undone);
              CHECK(undone.find("put its edits back onto") != std::string::npos);
              check_trunk_without_side(*f);
              CHECK(git(root, {"rev-parse", "side"}).size() == 41);  // the user's branch is theirs still
            }});
}

// The same, onto a merge of two parents: fab cannot tell which one the files on disk were written
// on, so the attempt fails saying so (nothing of it recorded, nothing of the user's branch on
// trunk; the blueprint allows one attempt).
TEST_CASE("careless: jj --ignore-working-copy rebase of its own change onto a merge fails the attempt and says why",
          "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\n" + jj_call("--ignore-working-copy rebase -r @ -o main -o side"),
            .fails = "cannot tell which commit the files left there were written on",
            .before = make_side_branch,
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto item = f->store().find_item(line + ".1");
              REQUIRE(item);
              CHECK(item->state == ItemState::dropped);
              const auto record = record_of(*f, *item);
              INFO(record);
              CHECK(record.find("its change is a merge") != std::string::npos);
              check_trunk_without_side(*f);
            }});
}

TEST_CASE("careless: jj op restore to an old operation is reverted", "[engine][careless]") {
  const std::string jj = "'" + jj_for_tests().string() + "'";
  run_case({.careless = "echo mine > careless.txt\nop=$(" + jj + " op log --no-graph -T 'id ++ \"\\n\"' | tail -n 3 | head -n 1)\n" +
                        jj_call("op restore \"$op\""),
            .fails = ""});
}

TEST_CASE("careless: deleting its own workspace fails the attempt and says so", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\ncd .. && rm -rf \"$FAB_WORKSPACE\"", .fails = "deleted its workspace"});
}

// --- files ------------------------------------------------------------------------------------------

TEST_CASE("careless: a 1.5 MiB file lands (under the default max_file_size)", "[engine][careless]") {
  run_case({.careless = "head -c 1572864 /dev/zero | tr '\\0' 'a' > big.txt\necho done > small.txt",
            .lands = {{"small.txt", "done\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto r = f->repo().run({"file", "show", "-r", "main", "root-file:\"big.txt\""});
              REQUIRE(r);
              CHECK(r->out.size() == 1572864);
            }});
}

TEST_CASE("careless: a file over max_file_size fails the attempt naming it, its size and the setting",
          "[engine][careless]") {
  run_case({.careless = "head -c 3000000 /dev/zero > huge.bin\necho done > small.txt",
            .fails = "huge.bin",
            .extra_yaml = "max_file_size: 2MiB\n",
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto item = f->store().find_item(line + ".1");
              REQUIRE(item);
              CHECK(item->feedback.find("max_file_size") != std::string::npos);
              CHECK(item->feedback.find("3000000") != std::string::npos);
            }});
}

TEST_CASE("careless: a file whose name is not UTF-8 fails the attempt naming it", "[engine][careless]") {
  run_case({.careless = "printf x > \"$(printf 'bad\\377name')\"\necho ok > ok.txt", .fails = "not valid UTF-8"});
}

TEST_CASE("careless: a symlink pointing out of the repo lands as a symlink and is noted in the transcript",
          "[engine][careless]") {
  run_case({.careless = "ln -s /etc/hostname outward\necho ok > ok.txt",
            .lands = {{"ok.txt", "ok\n"}},
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              CHECK(read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.agent.txt")
                        .find("outward -> /etc/hostname") != std::string::npos);
              // (`jj file show` prints nothing for a symlink: its type from jj, its target from git.)
              auto r = f->repo().run({"file", "list", "-r", "main", "-T", "path ++ \" \" ++ file_type ++ \"\\n\"",
                                      "root-file:\"outward\""});
              REQUIRE(r);
              CHECK(r->out == "outward symlink\n");
              CHECK(git(root, {"cat-file", "-p", "main:outward"}) == "/etc/hostname");
            }});
}

TEST_CASE("careless: writing into ../pool-2/ is caught instead of landing in another item's change",
          "[engine][careless]") {
  run_case({.careless = "mkdir -p ../pool-2 && echo sneaky > ../pool-2/sneaky.txt\necho mine > careless.txt",
            .fails = "outside its workspace",
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto r = f->repo().run({"file", "list", "-r", "main"});
              REQUIRE(r);
              CHECK(r->out.find("sneaky") == std::string::npos);
            }});
}

TEST_CASE("careless: an agent that made no changes fails unless the blueprint allows it", "[engine][careless]") {
  run_case({.careless = "true", .fails = "the agent made no changes"});
  run_case({.careless = "true", .extra_yaml = "allow_empty: true\n"});
}

TEST_CASE("careless: rewriting the blueprint copy in .factory changes nothing, the stamped one runs",
          "[engine][careless]") {
  run_case({.careless = "for f in \"$FAB_ITEM_FILE\"; do d=$(dirname \"$(dirname \"$(dirname \"$f\")\")\"); "
                        "printf 'name: careless\\nagent: {plugin: shell, with: {command: \"true\"}}\\n' > \"$d/blueprint.yaml\"; done\n"
                        "echo mine > careless.txt",
            .fails = "inspector command failed",
            .inspect = "test \"$FAB_ITEM_TITLE\" != \"Item 1\""});
}

// --- output, time, processes, environment ---------------------------------------------------------

TEST_CASE("careless: 40 MB of output does not fail a good agent and the transcript keeps its tail", "[engine][careless]") {
  run_case({.careless = "yes 'a line of output that the agent prints, over and over' | head -c 40000000\necho mine > careless.txt",
            .lands = {{"careless.txt", "mine\n"}}});
}

TEST_CASE("careless: a timed-out agent keeps what it printed", "[engine][careless]") {
  run_case({.careless = "echo printed-before-the-timeout\necho mine > careless.txt\nsleep 30",
            .fails = "printed-before-the-timeout",
            .timeout = 3});
}

TEST_CASE("careless: setsid sleep & and a killed plugin child leave no process behind", "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt\nsetsid sleep 1000 &\n(sleep 1000 &)\ntrue",
            .lands = {{"careless.txt", "mine\n"}}});
  run_case({.careless = "echo mine > careless.txt\nsetsid sleep 1000 &\nkill -9 $PPID\nsleep 1", .fails = "plugin"});
}

TEST_CASE("careless: an inspector running `yes | head -1` passes (children get SIGPIPE at its default)",
          "[engine][careless]") {
  run_case({.careless = "echo mine > careless.txt", .lands = {{"careless.txt", "mine\n"}}, .inspect = "yes | head -1"});
}

TEST_CASE("careless: the LLM resolver's key is not in an agent's environment or transcript", "[engine][careless]") {
  run_case({.careless = "env > env.txt\nenv",
            .lands = {},
            .extra_yaml = "refine:\n  - plugin: deterministic\n  - plugin: llm\n    with: { endpoint: \"http://127.0.0.1:9/v1\", "
                          "model: m, api_key_env: FAB_TEST_SECRET }\n",
            .check = [](const fs::path& root, const std::string& line, const ProcessResult&) {
              auto f = Factory::open(root);
              REQUIRE(f);
              auto r = f->repo().run({"file", "show", "-r", "main", "root-file:\"env.txt\""});
              REQUIRE(r);
              CHECK(r->out.find("FAB_ITEM_ID") != std::string::npos);
              CHECK(r->out.find("s3cr3t-value-42") == std::string::npos);
              CHECK(read_file(f->store().line_dir(line) / "items" / (line + ".1") / "attempt-1.agent.txt")
                        .find("s3cr3t-value-42") == std::string::npos);
            }});
}

TEST_CASE("careless: writing into the user's checkout by absolute path is reported", "[engine][careless]") {
  run_case({.careless = "echo intruder > \"$FAB_TEST_USER_ROOT/INTRUDER\"\necho mine > careless.txt",
            .lands = {{"careless.txt", "mine\n"}},
            .touches_checkout = true,
            .check = [](const fs::path& root, const std::string& line, const ProcessResult& run) {
              CHECK(run.err.find("INTRUDER") != std::string::npos);
              auto f = Factory::open(root);
              REQUIRE(f);
              auto item = f->store().find_item(line + ".1");
              REQUIRE(item);
              CHECK(record_of(*f, *item).find("your checkout") != std::string::npos);
              CHECK(read_file(root / "INTRUDER") == "intruder\n");
            }});
}

TEST_CASE("careless: copying a plugin into .factory/plugins/ does not change which plugin runs", "[engine][careless]") {
  run_case({.careless = "d=$(dirname \"$(dirname \"$(dirname \"$(dirname \"$FAB_ITEM_FILE\")\")\")\")\n"
                        "mkdir -p \"$d/plugins\" && cp \"$FAB_TEST_BIN/fab-plugin-shell.so\" \"$d/plugins/\"\n"
                        "echo mine > careless.txt",
            .lands = {{"careless.txt", "mine\n"}},
            .check = [](const fs::path& root, const std::string&, const ProcessResult&) {
              write_file(root.parent_path() / "bp2.yaml",
                         "name: again\nagent: {plugin: shell, with: {command: \"echo x > x.txt\"}}\n");
              write_file(root.parent_path() / "req2.md", "# R\n\n## One\n\nx\n");
              ProcessSpec spec{.argv = {(bin_dir() / "fab").string(), "-C", root.string(), "stamp",
                                        (root.parent_path() / "bp2.yaml").string(),
                                        (root.parent_path() / "req2.md").string()}};
              auto r = run_process(spec);
              REQUIRE(r);
              INFO(r->err);
              CHECK(r->ok());
            }});
}

}  // namespace fab::test
