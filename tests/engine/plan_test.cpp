// The floor's decisions (engine/plan.h): every scheduling, landing, stopping and recovery rule, on
// hand-made views, without jj or files.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/plan.h"

namespace fab::engine {
namespace {

ItemView item(const std::string& id, ItemState state = ItemState::queued, int attempts = 0,
              std::vector<std::string> deps = {}) {
  ItemView v;
  v.id = id;
  v.state = state;
  v.attempts = attempts;
  v.depends_on = std::move(deps);
  return v;
}

LineView line(const std::string& id, std::vector<ItemView> items, int slots = 2, bool inspectors = false,
              const std::string& trunk = "main") {
  LineView l;
  l.id = id;
  l.trunk = trunk;
  l.slots = slots;
  l.rework_limit = 3;
  l.has_inspectors = inspectors;
  l.items = std::move(items);
  return l;
}

FlightView flight(const std::string& line, Stage stage, long seq = 0) {
  FlightView f;
  f.line = line;
  f.stage = stage;
  f.seq = seq;
  return f;
}

std::vector<std::string> items_of(const std::vector<Action>& actions, Do what) {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (a.what == what) out.insert(out.end(), a.items.begin(), a.items.end());
  }
  return out;
}

int count(const std::vector<Action>& actions, Do what) {
  return static_cast<int>(std::count_if(actions.begin(), actions.end(), [&](const Action& a) { return a.what == what; }));
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("plan: ready items start while the line's slots last, in line order", "[engine][plan]") {
  View v;
  v.slots = 8;
  v.lines = {line("a", {item("a.1"), item("a.2"), item("a.3")}, 2)};
  auto actions = plan(v);
  CHECK(items_of(actions, Do::start) == V{"a.1", "a.2"});
  REQUIRE(count(actions, Do::start) == 1);  // one start action per line, with its items
  CHECK(actions.front().line == "a");
}

TEST_CASE("plan: while a gc is due nothing starts, and what is in flight goes on", "[engine][plan]") {
  View v;
  v.slots = 8;
  v.draining = true;
  v.lines = {line("a", {item("a.1", ItemState::inspecting), item("a.2", ItemState::refining), item("a.3"), item("a.4")}, 4,
                  true)};
  v.flights = {{"a.1", flight("a", Stage::inspect_waiting)}, {"a.2", flight("a", Stage::land_waiting, 1)}};
  auto actions = plan(v);
  CHECK(items_of(actions, Do::start).empty());
  CHECK(items_of(actions, Do::inspect) == V{"a.1"});
  CHECK(count(actions, Do::land) == 1);
  v.draining = false;
  CHECK(items_of(plan(v), Do::start) == V{"a.3", "a.4"});
}

TEST_CASE("plan: the run slots cap the plugin calls over all lines", "[engine][plan]") {
  View v;
  v.slots = 3;
  v.lines = {line("a", {item("a.1"), item("a.2")}, 2), line("b", {item("b.1"), item("b.2")}, 2)};
  CHECK(items_of(plan(v), Do::start) == V{"a.1", "a.2", "b.1"});
}

TEST_CASE("plan: running agents and inspectors count against slots, refining does not", "[engine][plan]") {
  View v;
  v.slots = 8;
  v.lines = {line("a", {item("a.1", ItemState::building), item("a.2", ItemState::inspecting),
                        item("a.3", ItemState::refining), item("a.4"), item("a.5")},
                  3)};
  v.flights = {{"a.1", flight("a", Stage::agent_running)},
               {"a.2", flight("a", Stage::inspect_running)},
               {"a.3", flight("a", Stage::refine_running)}};
  CHECK(items_of(plan(v), Do::start) == V{"a.4"});
}

TEST_CASE("plan: inspections waiting go before new starts", "[engine][plan]") {
  View v;
  v.slots = 8;
  v.lines = {line("a", {item("a.1", ItemState::inspecting), item("a.2")}, 1, true)};
  v.flights = {{"a.1", flight("a", Stage::inspect_waiting)}};
  auto actions = plan(v);
  CHECK(items_of(actions, Do::inspect) == V{"a.1"});
  CHECK(items_of(actions, Do::start).empty());
}

TEST_CASE("plan: an item starts only when every dependency has merged", "[engine][plan]") {
  View v;
  v.slots = 8;
  v.lines = {line("a", {item("a.1", ItemState::building), item("a.2", ItemState::queued, 0, {"a.1"}),
                        item("a.3", ItemState::merged), item("a.4", ItemState::queued, 0, {"a.3"})},
                  4)};
  v.flights = {{"a.1", flight("a", Stage::agent_running)}};
  CHECK(items_of(plan(v), Do::start) == V{"a.4"});
}

TEST_CASE("plan: items behind a dropped dependency are dropped, transitively", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::dropped), item("a.2", ItemState::queued, 0, {"a.1"}),
                        item("a.3", ItemState::queued, 0, {"a.2"}), item("a.4")})};
  auto actions = plan(v);
  CHECK(items_of(actions, Do::drop_blocked) == V{"a.2", "a.3"});
  CHECK(items_of(actions, Do::start) == V{"a.4"});
}

TEST_CASE("plan: rework items start again like queued ones", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::rework, 1)})};
  CHECK(items_of(plan(v), Do::start) == V{"a.1"});
}

TEST_CASE("plan: a failed attempt is reworked until the limit, then dropped, a permanent failure drops at once",
          "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::building, 1), item("a.2", ItemState::inspecting, 3),
                        item("a.3", ItemState::building, 1)})};
  v.flights = {{"a.1", flight("a", Stage::failed)}, {"a.2", flight("a", Stage::failed)}, {"a.3", flight("a", Stage::failed)}};
  v.flights["a.3"].permanent = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::rework) == V{"a.1"});
  CHECK(items_of(actions, Do::drop) == V{"a.2", "a.3"});
}

TEST_CASE("plan: finished calls are taken, each by its kind", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::building), item("a.2", ItemState::inspecting),
                        item("a.3", ItemState::refining), item("a.4", ItemState::refining)},
                  0)};
  v.flights = {{"a.1", flight("a", Stage::agent_finished)},
               {"a.2", flight("a", Stage::inspect_finished)},
               {"a.3", flight("a", Stage::refine_finished)},
               {"a.4", flight("a", Stage::reinspect_finished)}};
  auto actions = plan(v);
  CHECK(items_of(actions, Do::take_agent) == V{"a.1"});
  CHECK(items_of(actions, Do::take_inspection) == V{"a.2", "a.4"});
  CHECK(items_of(actions, Do::take_refine) == V{"a.3"});
}

TEST_CASE("plan: stopping starts nothing, still takes finished work, and parks what fab interrupted", "[engine][plan]") {
  View v;
  v.stopping = true;
  v.lines = {line("a", {item("a.1", ItemState::building), item("a.2", ItemState::building), item("a.3"),
                        item("a.4", ItemState::refining)})};
  v.flights = {{"a.1", flight("a", Stage::agent_finished)},
               {"a.2", flight("a", Stage::agent_finished)},
               {"a.4", flight("a", Stage::land_waiting, 1)}};
  v.flights["a.2"].interrupted = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::take_agent) == V{"a.1"});
  CHECK(items_of(actions, Do::park) == V{"a.2"});
  CHECK(items_of(actions, Do::start).empty());
  CHECK(items_of(actions, Do::land).empty());
}

TEST_CASE("plan: items of lines without inspectors land as one chain, in the order they got ready", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::refining), item("a.2", ItemState::refining), item("a.3", ItemState::refining)}, 0)};
  v.flights = {{"a.1", flight("a", Stage::land_waiting, 3)},
               {"a.2", flight("a", Stage::land_waiting, 1)},
               {"a.3", flight("a", Stage::land_waiting, 2)}};
  auto actions = plan(v);
  REQUIRE(count(actions, Do::land) == 1);
  const auto land = *std::find_if(actions.begin(), actions.end(), [](const Action& a) { return a.what == Do::land; });
  CHECK(land.items == V{"a.2", "a.3", "a.1"});
  CHECK(land.trunk == "main");
}

TEST_CASE("plan: an item of a line with inspectors lands alone, a chain holds one line", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::refining), item("a.2", ItemState::refining)}, 0, true),
             line("b", {item("b.1", ItemState::refining)}, 0, false)};
  v.flights = {{"a.1", flight("a", Stage::land_waiting, 1)},
               {"a.2", flight("a", Stage::land_waiting, 2)},
               {"b.1", flight("b", Stage::land_waiting, 3)}};
  CHECK(items_of(plan(v), Do::land) == V{"a.1"});
  v.flights.erase("a.1");
  v.flights.erase("a.2");
  CHECK(items_of(plan(v), Do::land) == V{"b.1"});
}

TEST_CASE("plan: each trunk gets its own landing", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::refining)}, 0, false, "main"),
             line("b", {item("b.1", ItemState::refining)}, 0, false, "dev")};
  v.flights = {{"a.1", flight("a", Stage::land_waiting, 1)}, {"b.1", flight("b", Stage::land_waiting, 2)}};
  CHECK(count(plan(v), Do::land) == 2);
}

TEST_CASE("plan: a conflicted item goes to the resolvers instead of landing", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::refining), item("a.2", ItemState::refining)}, 0)};
  v.flights = {{"a.1", flight("a", Stage::land_waiting, 1)}, {"a.2", flight("a", Stage::land_waiting, 2)}};
  v.flights["a.1"].conflicted = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::refine) == V{"a.1"});
  CHECK(items_of(actions, Do::land) == V{"a.2"});
}

TEST_CASE("plan: a halted trunk lands nothing and starts nothing for its lines", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::refining), item("a.2")}, 2, false, "main"),
             line("b", {item("b.1")}, 2, false, "dev")};
  v.flights = {{"a.1", flight("a", Stage::land_waiting, 1)}};
  v.trunks["main"].halted = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::land).empty());
  CHECK(items_of(actions, Do::start) == V{"b.1"});
}

TEST_CASE("plan: a line that could not be set up starts nothing, the others run", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1")}), line("b", {item("b.1")})};
  v.lines[0].usable = false;
  v.lines[0].problem = "plugin missing";
  CHECK(items_of(plan(v), Do::start) == V{"b.1"});
}

TEST_CASE("plan: an item without a change never starts", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1")})};
  v.lines[0].items[0].has_change = false;
  CHECK(plan(v).empty());
}

TEST_CASE("plan: recovery requeues interrupted builds, finishes landings trunk holds, carries the rest on",
          "[engine][plan][recovery]") {
  View v;
  v.recovering = true;
  v.lines = {line("a", {item("a.1", ItemState::building, 2), item("a.2", ItemState::refining, 1),
                        item("a.3", ItemState::refining, 1), item("a.4", ItemState::inspecting, 1),
                        item("a.5", ItemState::queued), item("a.6", ItemState::merged)})};
  v.lines[0].items[1].on_trunk = true;
  v.lines[0].items[5].on_trunk = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::requeue) == V{"a.1"});
  CHECK(items_of(actions, Do::mark_merged) == V{"a.2"});
  CHECK(items_of(actions, Do::resume_land) == V{"a.3"});
  CHECK(items_of(actions, Do::resume_inspect) == V{"a.4"});
  CHECK(actions.size() == 4);

  v.resume = false;  // `fab recover` alone: nothing is carried on, the states stay for the next run
  actions = plan(v);
  CHECK(items_of(actions, Do::resume_land).empty());
  CHECK(items_of(actions, Do::resume_inspect).empty());
  CHECK(actions.size() == 2);
}

TEST_CASE("plan: recovery drops items whose change vanished and settles divergent ones", "[engine][plan][recovery]") {
  View v;
  v.recovering = true;
  v.lines = {line("a", {item("a.1", ItemState::queued), item("a.2", ItemState::merged), item("a.3", ItemState::dropped),
                        item("a.4", ItemState::building, 1)})};
  v.lines[0].items[0].change_missing = true;
  v.lines[0].items[1].change_missing = true;
  v.lines[0].items[2].change_missing = true;
  v.lines[0].items[3].change_divergent = true;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::drop_vanished) == V{"a.1", "a.2"});
  CHECK(items_of(actions, Do::settle_divergent) == V{"a.4"});
  CHECK(items_of(actions, Do::requeue) == V{"a.4"});
}

TEST_CASE("plan: recovery drops an item that made fab crash twice, with the reason", "[engine][plan][recovery]") {
  View v;
  v.recovering = true;
  v.lines = {line("a", {item("a.1", ItemState::building, 1), item("a.2", ItemState::building, 1)})};
  v.lines[0].items[0].crashes = 2;
  v.lines[0].items[1].crashes = 1;
  auto actions = plan(v);
  REQUIRE(items_of(actions, Do::drop) == V{"a.1"});
  CHECK(actions.front().reason.find("crash") != std::string::npos);
  CHECK(items_of(actions, Do::requeue) == V{"a.2"});
}

TEST_CASE("plan: recovery carries nothing on for a line that cannot run", "[engine][plan][recovery]") {
  View v;
  v.recovering = true;
  v.lines = {line("a", {item("a.1", ItemState::inspecting, 1), item("a.2", ItemState::building, 1)})};
  v.lines[0].usable = false;
  auto actions = plan(v);
  CHECK(items_of(actions, Do::resume_inspect).empty());
  CHECK(items_of(actions, Do::requeue) == V{"a.2"});
}

TEST_CASE("plan: nothing to do is no action (a fixpoint)", "[engine][plan]") {
  View v;
  v.lines = {line("a", {item("a.1", ItemState::merged), item("a.2", ItemState::dropped)})};
  CHECK(plan(v).empty());
  v.flights = {{"x", flight("a", Stage::agent_running)}};
  v.lines[0].items.push_back(item("x", ItemState::building));
  CHECK(plan(v).empty());
}

}  // namespace fab::engine
