// Every `--json` output carries exactly the documented field names: nothing more (no item body, no
// inspector feedback, no blueprint copy), nothing less. Checked after a real run, when the stored
// items do carry a body and feedback.
#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Keys = std::set<std::string>;

Keys keys_of(const json& j) {
  REQUIRE(j.is_object());
  Keys keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

const Keys kItemKeys = {"id", "line", "title", "state", "change_id", "depends_on", "attempts", "drop_reason"};
const Keys kLineKeys = {"id", "blueprint", "requirement", "created", "items", "dropped"};

Keys with(Keys keys, const std::string& extra) {
  keys.insert(extra);
  return keys;
}

// `fab item show --json`: the item, its journal history, and that history read as attempts.
const Keys kShownItemKeys = with(with(kItemKeys, "history"), "attempt_records");

// The one JSON object a command printed on one line.
json one_object(const FabRun& r) {
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto lines = text_lines(r.out);
  REQUIRE(lines.size() == 1);
  return json::parse(lines[0]);
}

}  // namespace

TEST_CASE("every --json output has exactly the documented fields", "[cli][json]") {
  TempDir dir;
  auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  // Each item fails inspection once (so it carries feedback); "Doomed" always fails and is dropped.
  write_file(dir / "bp.yaml", R"(name: demo
rework_limit: 2
agent:
  plugin: shell
  with: { command: 'echo "$FAB_ITEM_TITLE" > "$FAB_ITEM_ID.txt"' }
inspect:
  - plugin: command
    with: { command: 'echo "not yet"; test "$FAB_ITEM_TITLE" != Doomed && test "$FAB_ATTEMPT" -ge 2' }
)");
  write_file(dir / "req.md", "# R\n\n## First\n\nThe first body.\n\n## Second\n\nDepends on: First\n\n## Doomed\n\nNever passes.\n");

  auto stamped = run_fab(root, {"stamp", (dir / "bp.yaml").string(), (dir / "req.md").string(), "--json"});
  auto stamp = one_object(stamped);
  CHECK(keys_of(stamp) == Keys{"line", "blueprint", "items"});
  CHECK(stamp.at("blueprint") == "demo");
  const std::string line = stamp.at("line");
  REQUIRE(stamp.at("items").size() == 3);
  for (const auto& item : stamp.at("items")) CHECK(keys_of(item) == kItemKeys);
  CHECK(stamp.at("items")[0].at("drop_reason").is_null());

  auto run = run_fab(root, {"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  // What is stored (line.json and the journal's changes after it) does have a body and feedback:
  // the JSON below leaves them out on purpose.
  const auto stored = read_file(root / ".factory" / "lines" / line / "line.json") +
                      read_file(root / ".factory" / "lines" / line / "journal.jsonl");
  CHECK(stored.find("\"body\"") != std::string::npos);
  CHECK(stored.find("\"feedback\"") != std::string::npos);

  SECTION("fab status --json: one object per line, the line's fields and counts per state") {
    auto s = one_object(run_fab(root, {"status", "--json"}));
    CHECK(keys_of(s) == with(kLineKeys, "counts"));
    CHECK(keys_of(s.at("counts")) ==
          Keys{"queued", "building", "inspecting", "rework", "refining", "merged", "dropped"});
    CHECK(s.at("counts").at("merged") == 2);
    CHECK(s.at("counts").at("dropped") == 1);
  }
  SECTION("fab line list --json") {
    auto l = one_object(run_fab(root, {"line", "list", "--json"}));
    CHECK(keys_of(l) == kLineKeys);
    CHECK(l.at("items") == json::array({line + ".1", line + ".2", line + ".3"}));
  }
  SECTION("fab line show ID --json: the line with its items as objects") {
    auto l = one_object(run_fab(root, {"line", "show", line, "--json"}));
    CHECK(keys_of(l) == kLineKeys);
    REQUIRE(l.at("items").size() == 3);
    for (const auto& item : l.at("items")) CHECK(keys_of(item) == kItemKeys);
    CHECK(l.at("items")[0].at("state") == "merged");
    CHECK(l.at("items")[0].at("attempts") == 2);
    CHECK(l.at("items")[2].at("state") == "dropped");
    CHECK(l.at("items")[2].at("drop_reason").is_string());
  }
  SECTION("fab item show --json, by item id and by change id: the item and its history") {
    auto by_id = one_object(run_fab(root, {"item", "show", line + ".1", "--json"}));
    CHECK(keys_of(by_id) == kShownItemKeys);
    CHECK(by_id.at("history").size() >= 5);  // queued -> building -> inspecting -> rework -> ...
    const std::string change = by_id.at("change_id");
    auto by_change = one_object(run_fab(root, {"item", "show", change, "--json"}));
    CHECK(keys_of(by_change) == kShownItemKeys);
    CHECK(by_change.at("id") == line + ".1");

    auto dropped = one_object(run_fab(root, {"item", "show", line + ".3", "--json"}));
    CHECK(keys_of(dropped) == kShownItemKeys);
    CHECK(dropped.at("state") == "dropped");
  }
}
