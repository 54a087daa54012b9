#include <catch2/catch.hpp>

#include <filesystem>

#include "blueprints/blueprint.h"
#include "blueprints/requirement.h"

namespace {
const std::filesystem::path kExamples = FAB_BLUEPRINT_EXAMPLES_DIR;
}

TEST_CASE("the example blueprint is valid and complete", "[examples]") {
  auto bp = fab::parse_blueprint_file(kExamples / "add-feature.yaml");
  REQUIRE(bp);
  CHECK(bp->name == "add-feature");
  CHECK(bp->decompose == fab::Decompose::headings);
  CHECK(bp->agent.plugin == "shell");
  CHECK(bp->agent.with["command"] == "./agent.sh");
  REQUIRE(bp->inspect.size() == 1);
  CHECK(bp->inspect[0].with["command"] == "make test");
  REQUIRE(bp->refine.size() == 2);
  CHECK(bp->refine[0].plugin == "deterministic");
  CHECK(bp->refine[1].plugin == "llm");
  CHECK(bp->refine[1].with["api_key_env"] == "OPENAI_API_KEY");
}

TEST_CASE("the example requirement has three items, one with a dependency", "[examples]") {
  auto bp = fab::parse_blueprint_file(kExamples / "add-feature.yaml");
  REQUIRE(bp);
  auto req = fab::parse_requirement_file(kExamples / "requirement.md", bp->decompose);
  REQUIRE(req);
  REQUIRE(req->sections.size() == 3);
  CHECK(req->sections[0].title == "Storage");
  CHECK(req->sections[1].title == "Add and list commands");
  CHECK(req->sections[2].title == "Help text");
  CHECK(req->sections[0].depends_on.empty());
  CHECK(req->sections[1].depends_on == std::vector<std::size_t>{0});
  CHECK(req->sections[2].depends_on.empty());
}
