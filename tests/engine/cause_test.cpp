#include <catch2/catch.hpp>

#include "engine/cause.h"
#include "engine/item_files.h"

using namespace fab::engine;

TEST_CASE("causes round-trip and foreign causes are not item causes", "[engine][cause]") {
  auto text = format_cause("k3x9qa", {"k3x9qa.1", "k3x9qa.2"}, "queued -> building (rebase onto main)");
  CHECK(text == "k3x9qa k3x9qa.1,k3x9qa.2: queued -> building (rebase onto main)");
  auto c = parse_cause(text);
  REQUIRE(c);
  CHECK(c->line == "k3x9qa");
  CHECK(c->items == std::vector<std::string>{"k3x9qa.1", "k3x9qa.2"});
  CHECK(c->what == "queued -> building (rebase onto main)");
  CHECK_FALSE(parse_cause(""));
  CHECK_FALSE(parse_cause("fab init"));
  CHECK_FALSE(parse_cause("fab recover: forget workspace fab-x.1"));
}

TEST_CASE("fab's workspace names carry the item id", "[engine][workspace]") {
  std::string item;
  CHECK(is_fab_workspace(workspace_name("ab12cd.3"), &item));
  CHECK(item == "ab12cd.3");
  CHECK_FALSE(is_fab_workspace("default"));
  CHECK_FALSE(is_fab_workspace("fab-"));
}

TEST_CASE("a cause whose items do not belong to its line is not an item cause", "[engine][cause]") {
  CHECK_FALSE(parse_cause("abc def.1: queued -> building"));
  CHECK(parse_cause("abc abc.1: queued -> building"));
}
