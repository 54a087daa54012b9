// kill -9 at random instants: every item still reaches merged exactly once, trunk holds each merged
// change exactly once, nothing is left building, and no workspace is left behind.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;

namespace {

// Kills `fab run` `kill_count` times at random instants on lines with `slots` slots (with an
// inspector, or none: then passing items are merged in chained batches), then checks the outcome.
void kill_and_check(const std::string& inspect, int slots, int kill_count) {
  std::uint32_t seed = 20251121;
  if (const char* s = std::getenv("FAB_CRASH_SEED")) seed = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  INFO("seed " << seed << " (set FAB_CRASH_SEED to replay)");
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_ms(150, 900);

  FactoryFixture f;
  const std::string agent = R"(sleep 0.1; mkdir -p items && echo "$FAB_ITEM_ID" >> "items/$FAB_ITEM_ID.txt")";
  std::vector<std::string> lines{f.stamp(blueprint_yaml(agent, inspect, slots, 3), requirement_md(20))};

  // Journal records so far: a kill that lands before the run got to work (on a loaded machine its
  // start-up alone can take longer than the delay) adds none; then the next delays grow, so the
  // kills keep landing in the middle of real work.
  auto records = [&] {
    std::size_t n = 0;
    for (const auto& line : lines) n += f.journal(line).size();
    return n;
  };
  double scale = 1.0;
  int kills = 0, finished_runs = 0;
  const int kKills = kill_count;
  while (kills < kKills) {
    const int ms = static_cast<int>(delay_ms(rng) * scale);
    const auto before = records();
    auto run = f.fab({"-q", "run", "--until-idle"}, std::chrono::milliseconds(ms), 9);
    scale = records() > before ? std::max(1.0, scale * 0.8) : std::min(8.0, scale * 1.5);
    if (run.timed_out) {
      ++kills;
    } else {
      INFO("fab run exited early: " << run.describe() << "\n" << run.err);
      REQUIRE(run.ok());
      ++finished_runs;
      // Everything merged before we were done killing: give the floor more work (always: a floor
      // with nothing to do would finish every run and never be killed again).
      lines.push_back(f.stamp(blueprint_yaml(agent, inspect, slots, 3), requirement_md(10)));
    }
    for (const auto& line : lines) check_invariants(f, line);
  }

  auto last = f.fab({"run", "--until-idle"});
  INFO(last.err);
  REQUIRE(last.ok());
  std::size_t items = 0;
  for (const auto& line : lines) {
    check_invariants(f, line);
    const auto journal = f.journal(line);
    for (const auto& item : f.line(line).items) {
      ++items;
      INFO(item.id << " drop reason: " << item.drop_reason);
      CHECK(item.state == ItemState::merged);
      // Merged exactly once in the work graph too: one "-> merged" transition, never rolled back.
      int merged = 0;
      for (const auto& r : journal) {
        if (r.kind == "transition" && r.str("item") == item.id && r.str("to") == "merged") ++merged;
      }
      CHECK(merged == 1);
      auto content = f.file_on_trunk("items/" + item.id + ".txt");
      CHECK(content.find(item.id + "\n") == 0);
    }
  }
  CHECK(items >= 20);
  CHECK(kills >= kKills);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
  CHECK(f.pool_empty());
  // Recovery wrote down what it did.
  bool recovery_noted = false;
  for (const auto& line : lines) {
    for (const auto& r : f.journal(line)) recovery_noted = recovery_noted || r.kind == "recovery";
  }
  CHECK(recovery_noted);
  WARN("kills: " << kills << ", runs that finished on their own: " << finished_runs << ", items: " << items);
}

}  // namespace

TEST_CASE("kill -9 at random instants: every item merges exactly once", "[engine][crash][slow]") {
  kill_and_check(R"(test -s "items/$FAB_ITEM_ID.txt")", 2, 50);
}

TEST_CASE("kill -9 during batched merges (no inspectors, 4 slots): every item merges exactly once",
          "[engine][crash][slow]") {
  kill_and_check("", 4, 30);
}
