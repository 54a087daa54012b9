// The operator steering a factory through the real binary on real jj: `fab item retry`, `fab line
// reblueprint`, `fab line drop`, and `fab stamp` asking for --again; a `fab run` working in another
// "terminal" sees retries and new blueprints without a restart.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/cli/fab_runner.h"
#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// An agent that fails until `gate` exists, then writes its item's file.
std::string gated_agent(const fs::path& gate) {
  return "test -f " + gate.string() + " || { echo 'not yet'; exit 1; }; echo \"$FAB_ITEM_ID\" > \"$FAB_ITEM_ID.txt\"";
}

// Polls until `pred` holds (or fails the test after `limit`).
template <class Pred>
void wait_for(Pred pred, const char* what, std::chrono::seconds limit = std::chrono::seconds(90)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) FAIL("timed out waiting for " << what);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

ItemState state_of(const FactoryFixture& f, const std::string& line, int n) {
  return f.line(line).items.at(static_cast<std::size_t>(n - 1)).state;
}

std::optional<JournalRecord> last_of_kind(const std::vector<JournalRecord>& journal, const std::string& kind) {
  std::optional<JournalRecord> found;
  for (const auto& r : journal) {
    if (r.kind == kind) found = r;
  }
  return found;
}

}  // namespace

TEST_CASE("fab item retry puts a dropped item back with a fresh count, keeping its earlier attempts' files",
          "[cli][steer][retry]") {
  FactoryFixture f;
  const auto gate = f.root().parent_path() / "gate";
  auto line = f.stamp(blueprint_yaml(gated_agent(gate), "", 2, 2), requirement_md(2, {{2, 1}}));
  auto run = f.fab({"run", "--until-idle"});
  REQUIRE(run.ok());
  REQUIRE(state_of(f, line, 1) == ItemState::dropped);
  REQUIRE(state_of(f, line, 2) == ItemState::dropped);  // behind it
  const auto item_dir = f.root() / ".factory" / "lines" / line / "items" / (line + ".1");
  const auto first_input = read_file(item_dir / "attempt-1.md");

  SECTION("refused with a hint where it cannot help") {
    auto behind = f.fab({"item", "retry", line + ".2"});
    CHECK(behind.exit_code == 1);
    CHECK(behind.err.find("Error: cannot retry " + line + ".2: it depends on " + line + ".1 (Item 1), which is dropped") == 0);
    CHECK(behind.err.find("Hint: retry both: `fab item retry " + line + ".1 " + line + ".2`") != std::string::npos);
    CHECK(f.fab({"item", "retry", "nosuch"}).exit_code == 1);
    CHECK(state_of(f, line, 2) == ItemState::dropped);
  }
  SECTION("retried, it builds from attempt 1 again; a merged item whose change is on trunk is refused") {
    auto retried = f.fab({"item", "retry", line + ".1"});
    INFO(retried.err);
    REQUIRE(retried.ok());
    CHECK(retried.err.find(line + ".1: queued again (round 2); the files of its earlier attempts are in items/" +
                           line + ".1/round-1") != std::string::npos);
    CHECK(retried.err.find("note: " + line + ".2 (Item 2) depends on " + line + ".1 and stays dropped") != std::string::npos);
    auto item = f.line(line).items[0];
    CHECK(item.state == ItemState::queued);
    CHECK(item.attempts == 0);
    CHECK(item.drop_reason.empty());
    CHECK(item.feedback.empty());
    CHECK(read_file(item_dir / "round-1" / "attempt-1.md") == first_input);
    CHECK_FALSE(fs::exists(item_dir / "attempt-1.md"));
    auto record = last_of_kind(f.journal(line), "transition");
    REQUIRE(record);
    CHECK(record->str("steer") == "retry");
    CHECK(record->str("from") == "dropped");
    CHECK(record->fields.at("round") == 2);
    CHECK(record->fields.at("previous_attempts") == 2);

    write_file(gate, "open\n");
    REQUIRE(f.fab({"item", "retry", line + ".2"}).ok());
    auto again = f.fab({"run", "--until-idle"});
    INFO(again.err);
    REQUIRE(again.ok());
    CHECK(state_of(f, line, 1) == ItemState::merged);
    CHECK(state_of(f, line, 2) == ItemState::merged);
    CHECK(f.line(line).items[0].attempts == 1);
    CHECK(fs::exists(item_dir / "attempt-1.md"));  // round 2's, beside round 1's
    check_invariants(f, line);

    auto show = f.fab({"item", "show", line + ".1"});
    CHECK(show.out.find("round 2 (retried; the files of round 1 are in .factory/lines/" + line + "/items/" + line +
                        ".1/round-1)") != std::string::npos);
    auto old_log = f.fab({"item", "log", line + ".1", "--round", "1", "--attempt", "2", "--step", "agent"});
    INFO(old_log.err);
    CHECK(old_log.ok());
    CHECK(old_log.out.find("not yet") != std::string::npos);

    auto merged = f.fab({"item", "retry", line + ".1"});
    CHECK(merged.exit_code == 1);
    CHECK(merged.err.find("it is merged and its change") != std::string::npos);
    CHECK(merged.err.find("is on main") != std::string::npos);
  }
}

TEST_CASE("a merged item whose change left trunk can be retried, and a vanished change is replaced",
          "[cli][steer][retry]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(R"(echo "$FAB_ITEM_ID" > "$FAB_ITEM_ID.txt")"), requirement_md(1));
  const auto before = f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"});
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  REQUIRE(state_of(f, line, 1) == ItemState::merged);
  const auto change = f.line(line).items[0].change->str();
  // The operator takes it off trunk and abandons it.
  f.jj({"bookmark", "set", "main", "--allow-backwards", "-r", before});
  f.jj({"abandon", change});
  auto retried = f.fab({"item", "retry", line + ".1"});
  INFO(retried.err);
  REQUIRE(retried.ok());
  CHECK(retried.err.find("its change was gone, it has a new one") != std::string::npos);
  // Retrying it says main is where the operator wants it: fab lands there again.
  CHECK(retried.err.find("fab continues from main at ") != std::string::npos);
  auto item = f.line(line).items[0];
  REQUIRE(item.change);
  CHECK(item.change->str() != change);
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.ok());
  CHECK(state_of(f, line, 1) == ItemState::merged);
  check_invariants(f, line);
}

TEST_CASE("a running fab run sees a retry and a new blueprint without a restart", "[cli][steer][run]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("echo 'cannot'; exit 1", "", 1, 1), requirement_md(1));
  RunThread run(f, {"run", "--grace", "1"}, std::chrono::minutes(3));
  wait_for([&] { return state_of(f, line, 1) == ItemState::dropped; }, "the item to be dropped");

  // A new blueprint whose agent works, checked like `fab blueprint check` first.
  write_file(f.root() / "bad.yaml", "name: t\nagent:\n  plugin: shell\n  with: { comand: x }\n");
  auto bad = f.fab({"line", "reblueprint", line, "bad.yaml"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("Error: bad.yaml:4:11: unknown setting 'comand'") == 0);
  write_file(f.root() / "other-trunk.yaml", "name: t\ntrunk: dev\nagent:\n  plugin: shell\n  with: { command: x }\n");
  auto trunk = f.fab({"line", "reblueprint", line, "other-trunk.yaml"});
  CHECK(trunk.exit_code == 1);
  CHECK(trunk.err.find("the blueprint lands on 'dev', but line " + line + " lands on 'main'") != std::string::npos);
  const auto digest_before = f.line(line).line.blueprint_digest;

  write_file(f.root() / "good.yaml", blueprint_yaml(R"(echo fixed > "$FAB_ITEM_ID.txt")", "", 1, 1));
  auto rebp = f.fab({"line", "reblueprint", line, "good.yaml"});
  INFO(rebp.err);
  REQUIRE(rebp.ok());
  auto rec = f.line(line).line;
  CHECK(rec.blueprint_digest != digest_before);
  CHECK(rec.blueprint_yaml == read_file(f.root() / "good.yaml"));
  CHECK(read_file(f.root() / ".factory" / "lines" / line / "blueprint.yaml") == rec.blueprint_yaml);
  auto journaled = last_of_kind(f.journal(line), "reblueprint");
  REQUIRE(journaled);
  CHECK(journaled->str("blueprint_digest") == rec.blueprint_digest);
  CHECK(journaled->str("previous_digest") == digest_before);
  CHECK(journaled->str("blueprint_file") == (f.root() / "good.yaml").string());
  auto same = f.fab({"line", "reblueprint", line, "good.yaml"});
  CHECK(same.ok());
  CHECK(same.err.find("nothing changed") != std::string::npos);

  REQUIRE(f.fab({"item", "retry", line + ".1"}).ok());
  wait_for([&] { return state_of(f, line, 1) == ItemState::merged; }, "the retried item to merge");
  CHECK(f.file_on_trunk(line + ".1.txt") == "fixed\n");

  // While the run holds the factory, a line cannot be dropped under it.
  auto drop = f.fab({"line", "drop", line});
  CHECK(drop.exit_code == 1);
  CHECK(drop.err.find("cannot drop line " + line + ": another fab run is working on this factory") != std::string::npos);
  CHECK(drop.err.find("`fab stop --wait`") != std::string::npos);

  REQUIRE(f.fab({"stop", "--wait"}).ok());
  run.thread.join();
  INFO(run.result.err);
  CHECK(run.result.ok());
  CHECK(run.result.err.find("fab: idle: nothing to build") != std::string::npos);
}

TEST_CASE("fab line drop drops the unfinished items, abandons their changes and hides the line",
          "[cli][steer][drop]") {
  FactoryFixture f;
  auto kept = f.stamp(blueprint_yaml(R"(echo "$FAB_ITEM_ID" > "$FAB_ITEM_ID.txt")"), requirement_md(1));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  write_file(f.root() / "req2.md", requirement_md(3));
  auto stamped = f.fab({"stamp", "bp.yaml", "req2.md", "--json"});
  REQUIRE(stamped.ok());
  const std::string line = json::parse(stamped.out).at("line");
  std::vector<std::string> changes;
  for (const auto& item : f.line(line).items) changes.push_back(item.change->str());

  auto drop = f.fab({"line", "drop", line, "--reason", "wrong requirement"});
  INFO(drop.err);
  REQUIRE(drop.ok());
  CHECK(drop.out.find(line + ".1 dropped\n") != std::string::npos);
  CHECK(drop.err.find("line " + line + " dropped: 3 item(s) dropped, 3 change(s) abandoned") != std::string::npos);
  auto rec = f.line(line);
  CHECK_FALSE(rec.line.dropped.empty());
  for (const auto& item : rec.items) {
    CHECK(item.state == ItemState::dropped);
    CHECK(item.drop_reason == "line dropped by the operator (fab line drop): wrong requirement");
  }
  for (const auto& c : changes) {
    CHECK(f.jj({"log", "--no-graph", "-r", "present(" + c + ")", "-T", "change_id"}).empty());
  }
  auto record = last_of_kind(f.journal(line), "line_dropped");
  REQUIRE(record);
  CHECK(record->fields.at("abandoned").size() == 3);
  CHECK(f.trunk_changes().size() > 1);  // the first line's merge is untouched
  CHECK(state_of(f, kept, 1) == ItemState::merged);

  auto status = f.fab({"status"});
  CHECK(status.out.find(line) == std::string::npos);
  CHECK(status.err.find("(1 dropped line(s) not shown: `fab status --all`)") != std::string::npos);
  CHECK(f.fab({"status", "--all"}).out.find(line) != std::string::npos);
  CHECK(f.fab({"line", "list"}).out.find(line + " (dropped)") != std::string::npos);
  auto listed = text_lines(f.fab({"line", "list", "--json"}).out);
  CHECK(json::parse(listed.at(1)).at("dropped").is_string());
  CHECK(json::parse(listed.at(0)).at("dropped").is_null());

  auto retry = f.fab({"item", "retry", line + ".1"});
  CHECK(retry.exit_code == 1);
  CHECK(retry.err.find("its line " + line + " was dropped") != std::string::npos);
  auto again = f.fab({"line", "drop", line});
  CHECK(again.ok());
  CHECK(again.err.find("was already dropped: nothing changed") != std::string::npos);
  // A dropped line's requirement may be stamped again without --again.
  CHECK(f.fab({"stamp", "bp.yaml", "req2.md"}).ok());
}

TEST_CASE("stamping a requirement already stamped with the same blueprint asks for --again", "[cli][steer][stamp]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("true"), requirement_md(2));
  const auto ops = f.jj({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""});
  for (auto args : {std::vector<std::string>{"stamp", "bp.yaml", "req.md"}, {"stamp", "--dry-run", "bp.yaml", "req.md"}}) {
    auto twice = f.fab(args);
    CHECK(twice.exit_code == 1);
    CHECK(twice.err.find("Error: req.md was already stamped with this blueprint: line " + line) == 0);
    CHECK(twice.err.find("Hint: `fab line show " + line + "` shows it; to make a second line from the same files "
                         "anyway, add --again") != std::string::npos);
  }
  CHECK(f.jj({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""}) == ops);
  auto lines = f.factory().store().lines();
  REQUIRE(lines);
  CHECK(lines->size() == 1);

  auto again = f.fab({"stamp", "bp.yaml", "req.md", "--again", "--json"});
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK(json::parse(again.out).at("line") != line);
  // Another text is another stamp.
  write_file(f.root() / "req.md", requirement_md(3));
  CHECK(f.fab({"stamp", "bp.yaml", "req.md"}).ok());
}

TEST_CASE("the README's `command: ./agent.sh`: not on trunk it drops at once saying why, and committed it builds",
          "[cli][steer][permanent]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("./agent.sh", "", 2, 5), requirement_md(1));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.ok());
  auto item = f.line(line).items[0];
  CHECK(item.state == ItemState::dropped);
  CHECK(item.attempts == 1);  // of 5: no retry can find a file that is not there
  CHECK(item.drop_reason.find("failed permanently (no retry can fix it) on attempt 1") != std::string::npos);
  CHECK(item.drop_reason.find("exit status 127: not found") != std::string::npos);
  CHECK(item.feedback.find("a script that is not committed on trunk is not there") != std::string::npos);

  // Committed on trunk (as the README says), the same blueprint works.
  write_file(f.root() / "agent.sh", "#!/bin/sh\necho built > \"$FAB_ITEM_ID.txt\"\n");
  fs::permissions(f.root() / "agent.sh", fs::perms::owner_exec, fs::perm_options::add);
  for (auto args : {std::vector<std::string>{"commit", "-m", "the agent script"},
                    std::vector<std::string>{"bookmark", "set", "main", "-r", "@-"}}) {
    args.insert(args.begin(), {jj_for_tests().string(), "--no-pager", "-R", f.root().string()});
    auto r = run_process({.argv = args, .cwd = f.root()});
    REQUIRE(r);
    INFO(r->err);
    REQUIRE(r->ok());
  }
  REQUIRE(f.fab({"item", "retry", line + ".1"}).ok());
  auto again = f.fab({"run", "--until-idle"});
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK(state_of(f, line, 1) == ItemState::merged);
  CHECK(f.file_on_trunk(line + ".1.txt") == "built\n");
}
