#include "engine/oplog.h"

#include <algorithm>

#include <fmt/format.h>

namespace fab::engine {

Result<std::vector<OplogEntry>> annotated_oplog(const Factory& factory, std::size_t limit) {
  FAB_TRY_ASSIGN(auto ops, factory.repo().operations(limit));
  std::vector<OplogEntry> out;
  out.reserve(ops.size());
  // Two kinds of operation jj records without the command that made them, so without fab's cause:
  // those `jj git init` made for `fab init` (the factory keeps their IDs), and the first of the two
  // that `jj workspace add` makes (it takes the cause of the second, made by the same command).
  const auto& init_ops = factory.config().init_ops;
  for (std::size_t i = ops.size(); i-- > 0;) {
    auto& op = ops[i];
    if (!op.cause.empty()) continue;
    if (std::find(init_ops.begin(), init_ops.end(), op.id) != init_ops.end()) {
      op.cause = "fab init (create the jj repo)";
    } else if (op.description.starts_with("add workspace 'fab-")) {
      op.cause = i > 0 && !ops[i - 1].cause.empty() ? ops[i - 1].cause : "fab run (add workspace)";
    }
  }
  for (auto& op : ops) {
    auto cause = parse_cause(op.cause);
    out.push_back({std::move(op), std::move(cause)});
  }
  return out;
}

nlohmann::json to_json(const OplogEntry& e) {
  nlohmann::json j{{"op", e.op.id},
                   {"time", e.op.time_end},
                   {"description", e.op.description},
                   {"fab", !e.op.cause.empty()},
                   {"cause", e.op.cause.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.op.cause)},
                   {"line", nullptr},
                   {"items", nlohmann::json::array()},
                   {"transition", nullptr}};
  if (e.item_cause) {
    j["line"] = e.item_cause->line;
    j["items"] = e.item_cause->items;
    j["transition"] = e.item_cause->what;
  }
  return j;
}

std::string format_oplog_line(const OplogEntry& e) {
  std::string why;
  if (e.item_cause) {
    std::string items;
    for (const auto& i : e.item_cause->items) items += (items.empty() ? "" : ",") + i;
    why = fmt::format("{}: {}", items, e.item_cause->what);
  } else if (!e.op.cause.empty()) {
    why = e.op.cause;
  } else if (e.op.id.find_first_not_of('0') == std::string::npos) {
    why = "(root)";
  } else {
    why = "(not fab)";
  }
  return fmt::format("{}  {}  {:<48}  {}", e.op.id.substr(0, 12), e.op.time_end, why, e.op.description);
}

}  // namespace fab::engine
