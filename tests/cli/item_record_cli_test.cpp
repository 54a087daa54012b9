// `fab item show` and `fab item log` read an item's record back: from a real run (transitions,
// feedback, a resolver's record, the attempt files), and from "step" records as the floor writes
// them (appended through the store here: usage, wall time, "retry": false, jj operations).
#include <regex>
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("fab item show prints each attempt of a real run: feedback, resolvers, jj operations, files",
          "[cli][item]") {
  FactoryFixture f;
  // Both items add to one file (the second to land conflicts; the union resolver settles it); the
  // inspector fails each item's first attempt with 30 lines of output.
  const std::string agent = R"(echo "$FAB_ITEM_ID" >> shared.txt)";
  const std::string inspect = R"(seq 1 30; echo "attempt $FAB_ATTEMPT"; test "$FAB_ATTEMPT" -ge 2)";
  const std::string refine = "refine:\n  - plugin: deterministic\n    with:\n      union: true\n";
  auto line = f.stamp(blueprint_yaml(agent, inspect, 2, 3, refine), requirement_md(2));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.ok());
  std::string resolved_item;
  for (const auto& r : f.journal(line)) {
    if (r.kind == "resolved") resolved_item = r.str("item");
  }
  REQUIRE_FALSE(resolved_item.empty());

  auto show = f.fab({"item", "show", resolved_item});
  INFO(show.out);
  REQUIRE(show.ok());
  const auto& out = show.out;
  const std::string files = ".factory/lines/" + line + "/items/" + resolved_item + "/attempt-1.md";
  CHECK(out.find("\nattempt 1  ") != std::string::npos);
  CHECK(out.find("  -> rework: inspector command failed:") != std::string::npos);
  CHECK(out.find("  feedback (the last 20 of ") != std::string::npos);
  CHECK(out.find("all of it: `fab item log " + resolved_item + " --attempt 1`") != std::string::npos);
  CHECK(out.find("    | attempt 1\n") != std::string::npos);
  CHECK(out.find("    | 1\n") == std::string::npos);  // the head of a long feedback is left to `fab item log`
  CHECK(out.find("\nattempt 2  ") != std::string::npos);
  CHECK(out.find("-> merged") != std::string::npos);
  // (The step table's columns are as wide as the attempt's widest entry.)
  CHECK(std::regex_search(out, std::regex("\n  refine +deterministic +ok +[0-9]+ ms +shared\\.txt: ")));
  // (The deterministic phase names the rule and the line of each region it settled.)
  CHECK(out.find("shared.txt: merged cleanly: 1") != std::string::npos);
  CHECK(out.find("conflicting region settled (line 1: union)") != std::string::npos);
  CHECK(out.find("  jj ops    ") != std::string::npos);
  CHECK(out.find("  files     " + files + "  attempt-1.agent.txt  attempt-1.inspect.txt") != std::string::npos);
  // The resolver's journal record is a row that says what it did (it used to be blank).
  CHECK(out.find("resolved  ") != std::string::npos);
  CHECK(out.find("shared.txt by deterministic") != std::string::npos);

  // Every attempt file is there to read, whole.
  const auto dir = f.root() / ".factory" / "lines" / line / "items" / resolved_item;
  auto inspected = f.fab({"item", "log", resolved_item, "--attempt", "1", "--step", "inspect"});
  REQUIRE(inspected.ok());
  CHECK(inspected.out == read_file(dir / "attempt-1.inspect.txt"));
  CHECK(inspected.out.find("1\n2\n3\n") != std::string::npos);
  auto last = f.fab({"item", "log", resolved_item});
  REQUIRE(last.ok());
  CHECK(last.out.find("==> .factory/lines/" + line + "/items/" + resolved_item + "/attempt-2.md <==") != std::string::npos);
  CHECK(last.out.find("==> .factory/lines/" + line + "/items/" + resolved_item + "/attempt-2.agent.txt <==") !=
        std::string::npos);
  CHECK(last.out.find(read_file(dir / "attempt-2.refine.txt")) != std::string::npos);
  auto missing = f.fab({"item", "log", resolved_item, "--attempt", "7"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("has no attempt 7") != std::string::npos);
  CHECK(missing.err.find("Hint: its attempts: 1, 2") != std::string::npos);

  auto j = json::parse(f.fab({"item", "show", resolved_item, "--json"}).out);
  const auto& attempts = j.at("attempt_records");
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].at("outcome") == "rework");
  CHECK(attempts[0].at("feedback").get<std::string>().find("attempt 1") != std::string::npos);
  CHECK(attempts[1].at("outcome") == "merged");
  CHECK(attempts[1].at("wall_ms").is_number());
  bool refine_step = false;
  for (const auto& s : attempts[1].at("steps")) refine_step = refine_step || (s.at("step") == "refine" && s.at("path") == "shared.txt");
  CHECK(refine_step);
}

TEST_CASE("fab item show reads the floor's step records: wall time, usage, permanent failures, ops",
          "[cli][item][steps]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("true"), requirement_md(1));
  const std::string id = line + ".1";
  auto factory = f.factory();
  auto& store = factory.store();
  auto step = [&](json fields) {
    JournalRecord r;
    r.kind = "step";
    r.fields = std::move(fields);
    r.fields["item"] = id;
    REQUIRE(store.append_journal(line, r));
  };
  REQUIRE(store.transition(id, ItemState::building, "attempt 1", {{"attempt", 1}, {"op", "aaaaaaaaaaaa1111"}},
                           [](Item& i) { i.attempts = 1; }));
  step({{"attempt", 1}, {"step", "agent"}, {"plugin", "claude"}, {"ms", 1500}, {"ok", true},
        {"summary", "wrote the parser\nand more"}, {"usage", {{"input_tokens", 1200}, {"output_tokens", 300}, {"cost_usd", 0.0125}}},
        {"ops", json::array({"bbbbbbbbbbbb2222"})}, {"log", "items/" + id + "/attempt-1.agent.txt"}});
  step({{"attempt", 1}, {"step", "snapshot"}, {"ms", 40}, {"ok", true}, {"ops", json::array({"cccccccccccc3333"})}});
  REQUIRE(store.transition(id, ItemState::inspecting, "agent finished", {{"op", "cccccccccccc3333"}}));
  step({{"attempt", 1}, {"step", "inspect"}, {"plugin", "command"}, {"ms", 61000}, {"ok", false},
        {"summary", "make: gcc: No such file or directory"}, {"retry", false}});
  REQUIRE(store.transition(id, ItemState::dropped, "the inspector marked its failure permanent",
                           {{"feedback", "make: gcc: No such file or directory\n"}},
                           [](Item& i) { i.drop_reason = "the inspector marked its failure permanent"; }));
  JournalRecord odd;
  odd.kind = "something_new";
  odd.fields = {{"item", id}, {"detail_code", 7}};
  REQUIRE(store.append_journal(line, odd));

  auto show = f.fab({"item", "show", id});
  INFO(show.out);
  REQUIRE(show.ok());
  const auto& out = show.out;
  CHECK(out.find("usage    1200 in / 300 out tokens, $0.0125\n") != std::string::npos);
  CHECK(out.find("  -> dropped: the inspector marked its failure permanent") != std::string::npos);
  CHECK(out.find("  agent     claude   ok      1.5 s  1200 in / 300 out tokens, $0.0125  wrote the parser\n") !=
        std::string::npos);
  CHECK(out.find("  snapshot  -        ok      40 ms") != std::string::npos);
  CHECK(out.find("  inspect   command  failed  1m01s") != std::string::npos);
  CHECK(out.find("make: gcc: No such file or directory (permanent: no retry)") != std::string::npos);
  CHECK(out.find("  jj ops    aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc\n") != std::string::npos);
  CHECK(out.find("    | make: gcc: No such file or directory\n") != std::string::npos);
  // Every journal record is a row that says something, whatever its kind.
  CHECK(out.find("claude ok in 1500 ms: wrote the parser\n") != std::string::npos);
  CHECK(out.find("something_new") != std::string::npos);
  CHECK(out.find("{\"detail_code\":7}\n") != std::string::npos);

  auto j = json::parse(f.fab({"item", "show", id, "--json"}).out);
  const auto& a = j.at("attempt_records").at(0);
  CHECK(a.at("usage") == json({{"input_tokens", 1200}, {"output_tokens", 300}, {"cost_usd", 0.0125}}));
  CHECK(a.at("steps").at(2).at("retry") == false);
  CHECK(a.at("ops") == json::array({"aaaaaaaaaaaa1111", "bbbbbbbbbbbb2222", "cccccccccccc3333"}));
}
