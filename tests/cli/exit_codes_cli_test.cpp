// fab's exit codes through the real binary: 1 for the user's errors, 2 for usage, 255 for internal
// errors (a bug in fab, or an environment failure fab cannot get round).
#include <catch2/catch.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

TEST_CASE("running out of file descriptors is an internal error: exit 255 with Error:", "[cli][errors]") {
  TempDir dir;
  auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  // Four descriptors: stdin, stdout, stderr and one (3, closed in case the test runner left one
  // there) to load libraries and read .factory/config.json with. Running jj needs a pipe (two more),
  // which the system refuses: nothing the user got wrong.
  const auto fab_exe = (bin_dir() / "fab").string();
  auto r = fab::run_process(
      {.argv = {"/bin/sh", "-c", "exec 3<&- && ulimit -n 4 && exec \"$0\" status", fab_exe}, .cwd = root});
  REQUIRE(r);
  INFO(r->err);
  CHECK(r->exit_code == 255);
  CHECK(r->err.rfind("Error: ", 0) == 0);
  CHECK(r->err.find("cannot create a pipe: Too many open files") != std::string::npos);
  CHECK(r->out.empty());

  // With descriptors to spare the same command is fine.
  auto ok = run_fab(root, {"status"});
  CHECK(ok.exit_code == 0);
}

TEST_CASE("user errors exit 1 and usage errors exit 2", "[cli][errors]") {
  TempDir dir;
  auto user = run_fab(dir.path(), {"status"});  // not a factory
  CHECK(user.exit_code == 1);
  CHECK(user.err.rfind("Error: ", 0) == 0);
  auto usage = run_fab(dir.path(), {"status", "--slots", "3"});
  CHECK(usage.exit_code == 2);
  CHECK(usage.err.rfind("Error: ", 0) == 0);
}
