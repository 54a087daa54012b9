// `-q/--quiet` silences progress and status on stderr, before the verb (`fab -q run`) or after it
// (`fab run --quiet`), for every verb.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

// A trivial shell agent: each item writes one file.
const char* const kBlueprint = R"(name: quiet
agent:
  plugin: shell
  with: { command: 'echo "$FAB_ITEM_TITLE" > "$FAB_ITEM_ID.txt"' }
)";
const char* const kRequirement = "## One\n\nFirst.\n\n## Two\n\nDepends on: One\n";

}  // namespace

TEST_CASE("fab run --quiet --until-idle prints nothing on stderr", "[cli][quiet]") {
  TempDir dir;
  auto root = dir / "repo";
  write_file(dir / "bp.yaml", kBlueprint);
  write_file(dir / "req.md", kRequirement);

  auto init = run_fab(dir.path(), {"init", root.string(), "--quiet"});
  REQUIRE(init.exit_code == 0);
  CHECK(init.err.empty());
  auto stamped = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "-q"});
  REQUIRE(stamped.exit_code == 0);
  CHECK(stamped.err.empty());
  CHECK(stamped.out.find("One") != std::string::npos);  // data still goes to stdout

  auto run = run_fab(root, {"run", "--quiet", "--until-idle"});
  CHECK(run.exit_code == 0);
  CHECK(run.err.empty());
  CHECK(run.out.empty());
  auto status = nlohmann::json::parse(run_fab(root, {"status", "--json", "-q"}).out);
  CHECK(status.at("counts").at("merged") == 2);

  // Without it the same verbs do talk on stderr (so the checks above mean something).
  write_file(dir / "req2.md", "## Three\n\nThird.\n");
  auto loud_stamp = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req2.md").string()});
  REQUIRE(loud_stamp.exit_code == 0);
  CHECK_FALSE(loud_stamp.err.empty());
  auto loud_run = run_fab(root, {"run", "--until-idle"});
  CHECK(loud_run.exit_code == 0);
  CHECK(loud_run.err.find("merged") != std::string::npos);
}

TEST_CASE("the quiet flag works before the verb, after it, and after a sub-verb", "[cli][quiet]") {
  TempDir dir;
  for (auto args : {std::vector<std::string>{"-q", "init", "a"}, {"init", "-q", "b"}, {"init", "c", "--quiet"}}) {
    auto r = run_fab(dir.path(), args);
    INFO(args[0] << " " << args[1] << " " << args[2] << ": " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
  }
  auto loud = run_fab(dir.path(), {"init", "d"});
  CHECK(loud.err.find("Initialized factory") != std::string::npos);

  write_file(dir / "bp.yaml", kBlueprint);
  auto check = run_fab(dir.path(), {"blueprint", "check", "bp.yaml", "--quiet"});
  CHECK(check.exit_code == 0);
  CHECK(check.out.empty());  // its "is valid" line is status, not data
  auto lines = run_fab(dir / "a", {"line", "list", "-q"});
  CHECK(lines.exit_code == 0);
  CHECK(lines.err.empty());

  // An option no verb knows is still a usage error.
  auto bad = run_fab(dir / "a", {"run", "--quite"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.rfind("Error: ", 0) == 0);
}
