// `fab merge-file`, the real binary: git merge-file's argument order, in-place writing and exit
// status, and the two configurations the README gives (a git merge driver, a jj merge tool) run
// by the real git and jj.
#include <catch2/catch.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;

namespace {

// Both sides add an include to one sorted list: a conflict for git, settled by `sorted-insert`.
const std::string kList = "#include <a.h>\n#include <c.h>\n";
const std::string kRest = "#include <e.h>\n#include <g.h>\nint g(void);\n";
const std::string kBase = kList + kRest;
const std::string kOurs = kList + "#include <d.h>\n" + kRest;
const std::string kTheirs = kList + "#include <cc.h>\n" + kRest;
const std::string kMerged = kList + "#include <cc.h>\n#include <d.h>\n" + kRest;
const std::string kClash = kList + "#include <d.h> /* x */\n" + kRest;  // d.h, twice: no order

// Runs a command that must succeed (git, jj, sh).
std::string run_ok(const std::filesystem::path& cwd, std::vector<std::string> argv,
                   std::map<std::string, std::string> env = {}) {
  auto r = fab::run_process({.argv = argv, .cwd = cwd, .env = env});
  REQUIRE(r);
  INFO(argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r->err);
  REQUIRE(r->ok());
  return r->out;
}

}  // namespace

TEST_CASE("fab merge-file writes the merge into OURS and exits 0 when clean", "[cli][merge-file]") {
  TempDir dir;
  write_file(dir.path() / "ours", kOurs);
  write_file(dir.path() / "base", kBase);
  write_file(dir.path() / "theirs", kTheirs);
  auto r = run_fab(dir.path(), {"merge-file", "--path", "src/f.h", "ours", "base", "theirs"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(read_file(dir.path() / "ours") == kMerged);
  CHECK(read_file(dir.path() / "base") == kBase);
  CHECK(r.err.find("src/f.h: 1 conflicting region settled (line 3: sorted-insert)") != std::string::npos);
}

TEST_CASE("fab merge-file merges one line token by token only with --token-merge", "[cli][merge-file]") {
  TempDir dir;
  const std::string base = "int f(int a, int b);\n";
  write_file(dir.path() / "base", base);
  write_file(dir.path() / "theirs", "int f(int a, int c);\n");  // theirs renames b
  write_file(dir.path() / "ours", "int f(long a, int b);\n");    // ours changes a's type
  SECTION("by default the line is left") {
    auto r = run_fab(dir.path(), {"merge-file", "--path", "f.h", "ours", "base", "theirs"});
    CHECK(r.exit_code == 1);
    CHECK(read_file(dir.path() / "ours") ==
          "<<<<<<< ours\nint f(long a, int b);\n||||||| base\n" + base + "=======\nint f(int a, int c);\n>>>>>>> theirs\n");
  }
  SECTION("asked for, both edits are kept") {
    auto r = run_fab(dir.path(), {"merge-file", "--token-merge", "--path", "f.h", "ours", "base", "theirs"});
    CHECK(r.exit_code == 0);
    CHECK(read_file(dir.path() / "ours") == "int f(long a, int c);\n");
    CHECK(r.err.find("f.h: 1 conflicting region settled (line 1: token-merge)") != std::string::npos);
  }
}

TEST_CASE("fab merge-file exits with the number of conflicts and leaves git-style blocks", "[cli][merge-file]") {
  TempDir dir;
  write_file(dir.path() / "ours", kOurs + "X\nend\n");
  write_file(dir.path() / "base", kBase + "x\nend\n");
  write_file(dir.path() / "theirs", kClash + "y\nend\n");
  SECTION("-p prints the result and leaves OURS alone") {
    auto r = run_fab(dir.path(), {"-q", "merge-file", "-p", "-L", "mine", "-L", "old", "-L", "yours", "ours", "base", "theirs"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.empty());  // -q
    CHECK(r.out ==
          kList + "<<<<<<< mine\n#include <d.h>\n||||||| old\n=======\n#include <d.h> /* x */\n>>>>>>> yours\n" +
              kRest + "<<<<<<< mine\nX\n||||||| old\nx\n=======\ny\n>>>>>>> yours\nend\n");
    CHECK(read_file(dir.path() / "ours") == kOurs + "X\nend\n");
  }
  SECTION("-o writes elsewhere, with the marker size asked for") {
    auto r = run_fab(dir.path(), {"merge-file", "--marker-size", "9", "-o", "out", "ours", "base", "theirs"});
    CHECK(r.exit_code == 2);
    CHECK(read_file(dir.path() / "out").find(kList + "<<<<<<<<< ours\n") == 0);
    CHECK(read_file(dir.path() / "ours") == kOurs + "X\nend\n");
  }
}

TEST_CASE("fab merge-file errors exit 255 and change nothing", "[cli][merge-file]") {
  TempDir dir;
  write_file(dir.path() / "ours", kOurs);
  write_file(dir.path() / "base", kBase);
  auto missing = run_fab(dir.path(), {"merge-file", "ours", "base", "theirs"});
  CHECK(missing.exit_code == 255);
  CHECK(missing.err.find("Error: cannot read 'theirs'") != std::string::npos);
  CHECK(read_file(dir.path() / "ours") == kOurs);
  write_file(dir.path() / "theirs", std::string("a\0b\n", 4));
  auto binary = run_fab(dir.path(), {"merge-file", "ours", "base", "theirs"});
  CHECK(binary.exit_code == 255);
  CHECK(binary.err.find("cannot merge binary file 'theirs'") != std::string::npos);
  CHECK(read_file(dir.path() / "ours") == kOurs);
  auto usage = run_fab(dir.path(), {"merge-file", "ours", "base"});
  CHECK(usage.exit_code == 2);
}

TEST_CASE("fab merge-file as git's merge driver settles what git cannot", "[cli][merge-file]") {
  TempDir dir;
  const auto repo = dir.path();
  const std::map<std::string, std::string> env = {
      {"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", "/dev/null"}, {"GIT_AUTHOR_NAME", "t"},
      {"GIT_AUTHOR_EMAIL", "t@t"}, {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@t"}};
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "git");
    return run_ok(repo, args, env);
  };
  git({"init", "-q", "-b", "main"});
  git({"config", "merge.fab.driver", (bin_dir() / "fab").string() + " merge-file --path %P %A %O %B"});
  write_file(repo / ".gitattributes", "*.h merge=fab\n");
  write_file(repo / "f.h", kBase);
  git({"add", "."});
  git({"commit", "-qm", "base"});
  git({"checkout", "-qb", "topic"});
  write_file(repo / "f.h", kTheirs);
  git({"commit", "-qam", "theirs"});
  git({"checkout", "-q", "main"});
  write_file(repo / "f.h", kOurs);
  git({"commit", "-qam", "ours"});
  git({"merge", "-q", "--no-edit", "topic"});  // fails the test if the merge conflicts
  CHECK(read_file(repo / "f.h") == kMerged);
}

TEST_CASE("fab merge-file as a jj merge tool settles a jj conflict", "[cli][merge-file]") {
  TempDir dir;
  const auto repo = dir.path();
  const std::map<std::string, std::string> env = {{"JJ_USER", "t"}, {"JJ_EMAIL", "t@t"},
                                                                {"JJ_CONFIG", "/dev/null"}};
  auto jj = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {jj_for_tests().string(), "--no-pager", "--color=never"});
    return run_ok(repo, args, env);
  };
  jj({"git", "init", "."});
  write_file(repo / "f.h", kBase);
  jj({"commit", "-m", "base"});
  write_file(repo / "f.h", kOurs);
  jj({"commit", "-m", "ours"});
  jj({"new", "@--", "-m", "theirs"});
  write_file(repo / "f.h", kTheirs);
  jj({"new", "description(exact:\"ours\n\")", "description(exact:\"theirs\n\")", "-m", "merge"});
  REQUIRE(jj({"resolve", "--list"}).find("f.h") != std::string::npos);
  const std::string fab = (bin_dir() / "fab").string();
  jj({"--config", "merge-tools.fab.program=\"" + fab + "\"", "--config",
      "merge-tools.fab.merge-args=[\"merge-file\", \"--path\", \"$path\", \"--marker-size\", \"$marker_length\", "
      "\"-o\", \"$output\", \"$left\", \"$base\", \"$right\"]",
      "--config", "merge-tools.fab.merge-conflict-exit-codes=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", "resolve", "--tool", "fab",
      "f.h"});
  CHECK(read_file(repo / "f.h") == kMerged);
  auto left = fab::run_process({.argv = {jj_for_tests().string(), "--no-pager", "resolve", "--list"}, .cwd = repo, .env = env});
  REQUIRE(left);
  CHECK(left->out.empty());  // nothing conflicted any more
}
