#pragma once
// The states a work item moves through and the ONE table of allowed transitions between them.
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "substrate/error.h"

namespace fab {

enum class ItemState { queued, building, inspecting, rework, refining, merged, dropped };

inline constexpr std::size_t kItemStateCount = 7;
inline constexpr std::array<ItemState, kItemStateCount> kAllItemStates = {
    ItemState::queued,   ItemState::building, ItemState::inspecting, ItemState::rework,
    ItemState::refining, ItemState::merged,   ItemState::dropped};  // in enum order

// "queued", "building", ...
std::string_view to_string(ItemState s);
std::optional<ItemState> parse_item_state(std::string_view name);

// Whether a transition is an ordinary step of the factory or part of crash recovery / rollback.
enum class TransitionKind { normal, recovery };

struct TransitionRule {
  ItemState from;
  ItemState to;
  bool recovery_only;  // only allowed with TransitionKind::recovery (undoing a merge or a drop)
};

// Every allowed transition. Anything not listed here is refused.
inline constexpr std::array kTransitionTable = {
    TransitionRule{ItemState::queued, ItemState::building, false},
    TransitionRule{ItemState::queued, ItemState::dropped, false},  // a dependency was dropped
    TransitionRule{ItemState::building, ItemState::inspecting, false},
    TransitionRule{ItemState::building, ItemState::rework, false},  // the agent failed
    TransitionRule{ItemState::building, ItemState::dropped, false},
    TransitionRule{ItemState::inspecting, ItemState::rework, false},
    TransitionRule{ItemState::inspecting, ItemState::refining, false},
    TransitionRule{ItemState::inspecting, ItemState::dropped, false},
    TransitionRule{ItemState::rework, ItemState::building, false},
    TransitionRule{ItemState::rework, ItemState::dropped, false},
    TransitionRule{ItemState::refining, ItemState::merged, false},
    TransitionRule{ItemState::refining, ItemState::rework, false},
    TransitionRule{ItemState::refining, ItemState::dropped, false},
    // Back to the queue after a crash or `fab recover --to`.
    TransitionRule{ItemState::building, ItemState::queued, false},
    TransitionRule{ItemState::inspecting, ItemState::queued, false},
    TransitionRule{ItemState::refining, ItemState::queued, false},
    TransitionRule{ItemState::rework, ItemState::queued, false},
    // Rollback of finished items: recovery only.
    TransitionRule{ItemState::merged, ItemState::queued, true},
    TransitionRule{ItemState::dropped, ItemState::queued, true},
    // Trunk already holds its change (a landing that failed after trunk took it): recovery only.
    TransitionRule{ItemState::queued, ItemState::merged, true},
    TransitionRule{ItemState::rework, ItemState::merged, true},
};

// The rule for from -> to, if there is one.
std::optional<TransitionRule> find_transition(ItemState from, ItemState to);

// Ok if the table allows from -> to for this kind of transition; otherwise an Error that says which
// transitions are possible from `from`.
Status check_transition(ItemState from, ItemState to, TransitionKind kind = TransitionKind::normal);

}  // namespace fab
