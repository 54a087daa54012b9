// Every kind of blueprint and requirement error the parsers produce, through `fab stamp`: exit 1,
// `Error: <file>:<line>[:<col>]: <message>` on stderr, and nothing written — no line under
// .factory/lines, no new jj operation.
#include <catch2/catch.hpp>

#include "tests/cli/fab_runner.h"

using namespace fab::test;
namespace fs = std::filesystem;

namespace {

const char* const kGoodBlueprint = "name: demo\nagent:\n  plugin: shell\n  with: { command: \"true\" }\n";
const char* const kGoodRequirement = "## A\n\nDo A.\n\n## B\n\nDepends on: A\n";

struct BadInput {
  const char* kind;
  const char* blueprint;    // nullptr: kGoodBlueprint
  const char* requirement;  // nullptr: kGoodRequirement
  const char* location;     // "line" or "line:col" in the bad file
  const char* message;      // what follows the location
  const char* hint;         // a piece of the hint, or nullptr
};

const BadInput kBadInputs[] = {
    // --- blueprints ---
    {"wrong type (an integer)", "name: demo\nslots: many\nagent:\n  plugin: shell\n", nullptr, "2:8",
     "'slots' must be an integer, got 'many'", nullptr},
    {"wrong type (a mapping)", "name: demo\nagent: shell\n", nullptr, "2:8", "'agent' must be a mapping, got 'shell'",
     "e.g. agent: { plugin: shell"},
    {"missing required key", "name: demo\nslots: 2\n", nullptr, "1:1", "missing required key 'agent'", "add it"},
    {"missing required nested key", "name: demo\nagent:\n  timeout: 5\n", nullptr, "2:1",
     "'agent' is missing required key 'plugin'", "plugin: shell"},
    {"bad value (below the minimum)", "name: demo\nslots: 0\nagent:\n  plugin: shell\n", nullptr, "2:8",
     "'slots' must be at least 1, got 0", nullptr},
    {"bad value (a name)", "name: Bad_Name\nagent:\n  plugin: shell\n", nullptr, "1:7",
     "'name' must match [a-z0-9-]+, got 'Bad_Name'", "name: bad-name"},
    {"bad value with did-you-mean", "name: demo\ndecompose: heading\nagent:\n  plugin: shell\n", nullptr, "2:12",
     "'decompose' must be 'headings' or 'checklist', got 'heading'", "did you mean 'headings'?"},
    {"unknown key with did-you-mean", "name: demo\nrework_limt: 3\nagent:\n  plugin: shell\n", nullptr, "2:1",
     "unknown key 'rework_limt'", "did you mean 'rework_limit'?"},
    {"unknown nested key with did-you-mean", "name: demo\nagent:\n  plugin: shell\n  timout: 5\n", nullptr, "4:3",
     "unknown key 'timout' in 'agent'", "did you mean 'timeout'?"},
    {"duplicate key", "name: demo\nname: other\nagent: { plugin: shell }\n", nullptr, "2:1", "duplicate key 'name'",
     nullptr},
    {"malformed YAML", "name: demo\n  agent: 2\n", nullptr, "2:8", "malformed YAML: illegal map value", nullptr},
    {"empty blueprint", "# nothing yet\n", nullptr, "1:1", "blueprint is empty", "name: my-run"},
    {"two YAML documents", "name: demo\nagent: { plugin: shell }\n---\nname: other\n", nullptr, "4:1",
     "blueprint has more than one YAML document", nullptr},
    {"blueprint not UTF-8", "name: demo\nagent:\n  plugin: shell\n  with: { command: \"echo \xe9t\xe9\" }\n", nullptr,
     "4:26", "not valid UTF-8 (byte 0xe9)", "save the file as UTF-8"},
    // --- requirements ---
    {"unknown dependency title with did-you-mean", nullptr, "## Alpha\n\n## Beta\n\nDepends on: Alpah\n", "5:13",
     "item 'Beta' depends on unknown item 'Alpah'", "did you mean 'Alpha'?"},
    {"duplicate title", nullptr, "## A\n\nOne.\n\n## A\n\nTwo.\n", "5", "duplicate item title 'A' (first at line 1)",
     nullptr},
    {"dependency cycle", nullptr, "## A\n\nDepends on: B\n\n## B\n\nDepends on: A\n", "3:13",
     "dependency cycle: A -> B -> A", nullptr},
    {"self-dependency", nullptr, "## A\n\nDepends on: A\n", "3:13", "item 'A' depends on itself", nullptr},
    {"no items", nullptr, "# Title\n\nJust prose, no sections.\n", "1", "requirement has no items", "## Add login"},
    {"empty title", nullptr, "## A\n\n##\n\nText.\n", "3", "empty item title", nullptr},
    {"requirement not UTF-8", nullptr, "## A\n\nCaf\xe9 au lait.\n", "3:4", "not valid UTF-8 (byte 0xe9)",
     "save the file as UTF-8"},
};

}  // namespace

TEST_CASE("every blueprint and requirement error: exit 1, file:line[:col], nothing written", "[cli][stamp][errors]") {
  TempDir dir;
  auto root = dir / "repo";
  REQUIRE(run_fab(dir.path(), {"init", root.string()}).exit_code == 0);
  // The good pair stamps (checked with --dry-run, which writes nothing either).
  write_file(dir / "good.yaml", kGoodBlueprint);
  write_file(dir / "good.md", kGoodRequirement);
  REQUIRE(run_fab(root, {"stamp", (dir / "good.yaml").string(), (dir / "good.md").string(), "--dry-run"}).exit_code ==
          0);
  const auto ops = op_count(root);

  for (const auto& bad : kBadInputs) {
    DYNAMIC_SECTION(bad.kind) {
      const auto bp = bad.blueprint ? dir / "bad.yaml" : dir / "good.yaml";
      const auto req = bad.requirement ? dir / "bad.md" : dir / "good.md";
      if (bad.blueprint) write_file(bp, bad.blueprint);
      if (bad.requirement) write_file(req, bad.requirement);
      const auto bad_file = bad.blueprint ? bp : req;

      auto r = run_fab(root, {"stamp", bp.string(), req.string()});
      INFO(r.err);
      CHECK(r.exit_code == 1);
      const std::string expected = "Error: " + bad_file.string() + ":" + bad.location + ": " + bad.message + "\n";
      CHECK(r.err.rfind(expected, 0) == 0);
      if (bad.hint) CHECK(r.err.find("Hint: ") != std::string::npos);
      if (bad.hint) CHECK(r.err.find(bad.hint) != std::string::npos);
      CHECK(r.out.empty());

      CHECK(fs::is_empty(root / ".factory" / "lines"));
      CHECK(op_count(root) == ops);
    }
  }
}
