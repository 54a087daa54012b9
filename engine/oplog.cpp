#include "engine/oplog.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "engine/pool.h"

namespace fab::engine {

namespace {

// The operations fab made in its pool workspaces (the executor lists them as it makes them).
std::set<std::string> pool_ops(const Factory& factory) {
  std::set<std::string> ids;
  std::ifstream in(factory.factory_dir() / "pool-ops");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.insert(line);
  }
  return ids;
}

}  // namespace

Result<std::vector<OplogEntry>> annotated_oplog(const Factory& factory, std::size_t limit) {
  FAB_TRY_ASSIGN(auto ops, factory.repo().operations(limit));
  // Whose is each? Anyone can pass `--config fab.cause=...`, so a cause proves nothing: an
  // operation is fab's when it ran in one of fab's seats, or in a pool workspace and fab listed it
  // when it made it, or it is one `fab init` made (their IDs are kept); jj's own merges of
  // concurrent operations name no workspace and carry the cause of no one.
  const auto listed = pool_ops(factory);
  for (auto& op : ops) {
    const bool seat = op.workspace.rfind("fab-engineer", 0) == 0;
    const bool pool = is_pool_workspace(op.workspace) && listed.count(op.id.substr(0, 32)) > 0;
    const bool init = std::find(factory.config().init_ops.begin(), factory.config().init_ops.end(), op.id) !=
                      factory.config().init_ops.end();
    if (!(seat || pool || init)) {
      op.claimed_cause = std::move(op.cause);
      op.cause.clear();
    }
  }
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
                   {"transition", nullptr},
                   {"workspace", e.op.workspace.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.op.workspace)},
                   {"command", e.op.command}};
  if (!e.op.claimed_cause.empty()) j["claimed_cause"] = e.op.claimed_cause;
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
  } else if (!e.op.claimed_cause.empty()) {
    why = "(not fab, though it claims \"" + e.op.claimed_cause + "\")";
  } else {
    why = "(not fab)";
  }
  return fmt::format("{}  {}  {:<48}  {}", e.op.id.substr(0, 12), e.op.time_end, why, e.op.description);
}

}  // namespace fab::engine
