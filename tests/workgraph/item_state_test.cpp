#include <catch2/catch.hpp>

#include <set>
#include <utility>

#include "workgraph/item_state.h"

using fab::ItemState;
using fab::TransitionKind;

namespace {
using S = ItemState;
// The list, written out independently of the table in item_state.h, plus queued -> dropped
// (an item whose dependency was dropped can never start).
const std::set<std::pair<S, S>> kNormal = {
    {S::queued, S::building},     {S::queued, S::dropped},      {S::building, S::inspecting}, {S::building, S::rework},
    {S::building, S::dropped},    {S::inspecting, S::rework},   {S::inspecting, S::refining},
    {S::inspecting, S::dropped},  {S::rework, S::building},     {S::rework, S::dropped},
    {S::refining, S::merged},     {S::refining, S::rework},     {S::refining, S::dropped},
    {S::building, S::queued},     {S::inspecting, S::queued},   {S::refining, S::queued},
    {S::rework, S::queued}};
const std::set<std::pair<S, S>> kRecoveryOnly = {
    {S::merged, S::queued}, {S::dropped, S::queued}, {S::queued, S::merged}, {S::rework, S::merged}};
}  // namespace

TEST_CASE("state names round-trip", "[workgraph][state]") {
  for (auto s : fab::kAllItemStates) {
    CHECK(fab::parse_item_state(fab::to_string(s)) == s);
  }
  CHECK(fab::to_string(S::inspecting) == "inspecting");
  CHECK_FALSE(fab::parse_item_state("done"));
  CHECK_FALSE(fab::parse_item_state("Queued"));
  for (std::size_t i = 0; i < fab::kAllItemStates.size(); ++i) {
    CHECK(static_cast<std::size_t>(fab::kAllItemStates[i]) == i);
  }
}

TEST_CASE("every pair of states is allowed or refused exactly as the table says", "[workgraph][state]") {
  for (auto from : fab::kAllItemStates) {
    for (auto to : fab::kAllItemStates) {
      INFO(fab::to_string(from) << " -> " << fab::to_string(to));
      bool normal = kNormal.count({from, to}) > 0;
      bool recovery_only = kRecoveryOnly.count({from, to}) > 0;
      CHECK(fab::check_transition(from, to, TransitionKind::normal).has_value() == normal);
      CHECK(fab::check_transition(from, to, TransitionKind::recovery).has_value() ==
            (normal || recovery_only));
    }
  }
  CHECK(fab::kTransitionTable.size() == kNormal.size() + kRecoveryOnly.size());
}

TEST_CASE("a refused transition says where the item can go", "[workgraph][state]") {
  auto r = fab::check_transition(S::queued, S::refining);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "an item cannot go from queued to refining");
  CHECK(r.error().hint == "from queued an item can go to: building, dropped");

  auto rollback = fab::check_transition(S::merged, S::queued);
  REQUIRE_FALSE(rollback);
  CHECK(rollback.error().hint.find("fab recover") != std::string::npos);

  auto final_state = fab::check_transition(S::dropped, S::building);
  REQUIRE_FALSE(final_state);
  CHECK(final_state.error().hint.find("final") != std::string::npos);
}
