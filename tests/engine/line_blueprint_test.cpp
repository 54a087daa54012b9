// The blueprint a line runs with (engine/line_blueprint.h): the YAML kept in line.json, checked
// against its digest and against the digest the line's journal recorded at stamp time.
#include <catch2/catch.hpp>

#include "engine/line_blueprint.h"
#include "tests/support/temp_dir.h"
#include "workgraph/ids.h"

using namespace fab;
using fab::test::read_file;
using fab::test::write_file;

namespace {

const std::string kYaml = "name: first\nagent:\n  plugin: shell\n";
const std::string kOther = "name: other\nagent:\n  plugin: shell\n";

Store line_with_blueprint(const std::filesystem::path& dir) {
  auto store = Store::open(dir);
  REQUIRE(store);
  Line line;
  line.id = "k3x9qa";
  line.blueprint = "first";
  line.requirement = "req.md";
  line.trunk = "main";
  line.blueprint_yaml = kYaml;
  line.blueprint_digest = blueprint_digest(kYaml);
  Item item;
  item.id = make_item_id(line.id, 1);
  item.line = line.id;
  item.title = "one";
  REQUIRE(store->create_line(line, {item}));
  return std::move(*store);
}

}  // namespace

TEST_CASE("a line's blueprint is the one its journal says it was stamped with", "[engine][blueprint]") {
  fab::test::TempDir dir;
  auto store = line_with_blueprint(dir.path());
  auto line = store.load_line("k3x9qa");
  REQUIRE(line);
  auto bp = engine::load_line_blueprint(store, line->line);
  INFO((bp ? "" : bp.error().render()));
  REQUIRE(bp);
  CHECK(bp->name == "first");

  const auto file = store.line_dir("k3x9qa") / "line.json";
  auto text = read_file(file);
  SECTION("the YAML edited in line.json") {
    text.replace(text.find("name: first"), 11, "name: other");
    write_file(file, text);
    auto edited = Store::open(dir.path())->load_line("k3x9qa");
    REQUIRE(edited);
    auto r = engine::load_line_blueprint(store, edited->line);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("changed behind fab's back") != std::string::npos);
  }
  SECTION("the YAML and its digest both rewritten in line.json") {
    text.replace(text.find("name: first"), 11, "name: other");
    text.replace(text.find(blueprint_digest(kYaml)), 14, blueprint_digest(kOther));
    write_file(file, text);
    auto edited = Store::open(dir.path())->load_line("k3x9qa");
    REQUIRE(edited);
    REQUIRE(edited->line.blueprint_digest == blueprint_digest(edited->line.blueprint_yaml));
    auto r = engine::load_line_blueprint(store, edited->line);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("the line's journal says it was stamped as " + blueprint_digest(kYaml)) !=
          std::string::npos);
    CHECK_FALSE(r.error().hint.empty());
  }
  SECTION("replaced through the store: accepted") {
    auto replaced = store.replace_blueprint("k3x9qa", kOther, "/bp/other.yaml");
    REQUIRE(replaced);
    auto r = engine::load_line_blueprint(*Store::open(dir.path()), *replaced);
    INFO((r ? "" : r.error().render()));
    REQUIRE(r);
    CHECK(r->name == "other");
  }
}
