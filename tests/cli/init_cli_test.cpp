// `fab init` through the real binary on real jj: a second init keeps the factory's trunk.
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

}  // namespace

TEST_CASE("a second fab init keeps the trunk; only --trunk changes it", "[cli][init]") {
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

  auto other = run_fab(dir.path(), {"init", root.string(), "--trunk", "release"});
  REQUIRE(other.exit_code == 0);
  CHECK(config_trunk(root) == "release");
  CHECK(bookmarks(root) == "dev\nrelease\n");

  auto empty = run_fab(dir.path(), {"init", root.string(), "--trunk", ""});
  CHECK(empty.exit_code == 2);
  CHECK(config_trunk(root) == "release");
}
