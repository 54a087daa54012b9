#include "workgraph/item_state.h"

#include <fmt/format.h>

namespace fab {

std::string_view to_string(ItemState s) {
  switch (s) {
    case ItemState::queued: return "queued";
    case ItemState::building: return "building";
    case ItemState::inspecting: return "inspecting";
    case ItemState::rework: return "rework";
    case ItemState::refining: return "refining";
    case ItemState::merged: return "merged";
    case ItemState::dropped: return "dropped";
  }
  return "unknown";
}

std::optional<ItemState> parse_item_state(std::string_view name) {
  for (ItemState s : kAllItemStates) {
    if (to_string(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

std::optional<TransitionRule> find_transition(ItemState from, ItemState to) {
  for (const auto& rule : kTransitionTable) {
    if (rule.from == from && rule.to == to) {
      return rule;
    }
  }
  return std::nullopt;
}

Status check_transition(ItemState from, ItemState to, TransitionKind kind) {
  auto rule = find_transition(from, to);
  if (rule && (!rule->recovery_only || kind == TransitionKind::recovery)) {
    return {};
  }
  std::string possible;
  for (const auto& r : kTransitionTable) {
    if (r.from == from && (!r.recovery_only || kind == TransitionKind::recovery)) {
      possible += possible.empty() ? "" : ", ";
      possible += to_string(r.to);
    }
  }
  Error e(fmt::format("an item cannot go from {} to {}", to_string(from), to_string(to)));
  if (rule && rule->recovery_only) {
    e.hint = fmt::format("{} -> {} is a rollback; only `fab recover` may do it", to_string(from),
                         to_string(to));
  } else if (possible.empty()) {
    e.hint = fmt::format("{} is final; `fab recover` can roll an item back", to_string(from));
  } else {
    e.hint = fmt::format("from {} an item can go to: {}", to_string(from), possible);
  }
  return tl::unexpected(std::move(e));
}

}  // namespace fab
