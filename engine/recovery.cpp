#include "engine/recovery.h"

#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "blueprints/stamp.h"
#include "engine/cause.h"
#include "engine/executor.h"
#include "engine/trunk.h"
#include "engine/item_files.h"
#include "engine/line_blueprint.h"
#include "engine/op_retention.h"
#include "engine/orphans.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

// The journal catches up with the saved states: a transition whose record a kill prevented is
// journaled now (see Store::journal_lost_transitions).
Status catch_up_journal(Store& store, const std::string& line, const std::string& op, std::vector<Repair>& repairs) {
  FAB_TRY_ASSIGN(auto lost, store.journal_lost_transitions(
                                line, "recovered: journaled after a crash (the state was saved, its record was not)",
                                {{"op", op}}));
  for (const auto& what : lost) {
    const auto space = what.find(' ');
    repairs.push_back({line, what.substr(0, space), what.substr(space + 1) + ": journal record restored"});
  }
  return {};
}


}  // namespace

Status journal_repairs(Store& store, const std::vector<Repair>& repairs, const std::string& context) {
  std::map<std::string, std::vector<std::string>> by_line;
  for (const auto& r : repairs) {
    if (!r.line.empty()) by_line[r.line].push_back(r.item + " " + r.what);
  }
  for (const auto& [line, whats] : by_line) {
    JournalRecord rec;
    rec.kind = "recovery";
    rec.fields = {{"line", line}, {"context", context}, {"repairs", whats}};
    FAB_TRY(store.append_journal(line, rec));
  }
  return {};
}

Result<std::vector<Repair>> repair_after_crash(Factory& factory) {
  RunOptions options;
  options.host = plugins::host_options_from_env(factory.root());
  Executor x(factory, options);
  return x.start(/*resume=*/false);
}

Result<std::vector<Repair>> accept_trunk(Factory& factory, const std::string& trunk) {
  OpLedger ledger;
  TrunkKeeper keeper(factory, ledger);
  FAB_TRY_ASSIGN(auto state, keeper.accept(trunk));
  std::vector<Repair> repairs;
  repairs.push_back({"", "", fmt::format("fab continues from {} at {}", trunk, state.seen.substr(0, 12))});
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  FAB_TRY_ASSIGN(auto op, factory.repo().current_operation());
  for (const auto& line : lines) {
    if (line.trunk != trunk) continue;
    FAB_TRY_ASSIGN(auto record, factory.store().load_line(line.id));
    std::vector<std::string> merged;
    for (const auto& item : record.items) {
      if (item.state == ItemState::merged && item.change) merged.push_back(item.change->str());
    }
    if (merged.empty()) continue;
    std::set<std::string> on_trunk;
    for (const auto& set : present_unions(merged)) {  // in pieces: a big line's set outgrows one argument
      FAB_TRY_ASSIGN(auto held, factory.repo().query(fmt::format("({}) & ::{}", set, state.seen)));
      for (const auto& c : held) on_trunk.insert(c.change_id.str());
    }
    for (const auto& item : record.items) {
      if (item.state != ItemState::merged || !item.change || on_trunk.count(item.change->str())) continue;
      auto reason = fmt::format("recovered: {} was moved and no longer holds it; it lands again on the new {}", trunk, trunk);
      FAB_TRY(factory.store().rollback(item.id, reason, {{"op", op}}));
      repairs.push_back({line.id, item.id, "merged -> queued: " + reason.substr(11)});
    }
  }
  FAB_TRY(journal_repairs(factory.store(), repairs, "accept trunk " + trunk));
  return repairs;
}

Result<std::vector<Repair>> recover_to_operation(Factory& factory, const std::string& op) {
  const Repo& repo = factory.repo();
  // The operations the repo had at `op`: `op` itself and its ancestors.
  auto listed = repo.operation_ancestry(op);
  if (!listed) {
    return fail(Error(fmt::format("'{}' is not an operation of this repo", op)).caused_by(listed.error().render()),
                "pick one from `fab oplog`");
  }
  std::set<std::string> before(listed->begin(), listed->end());
  const std::string full_op = listed->empty() ? op : listed->front();
  FAB_TRY(check_journal_operations(factory, before));  // (refuses when journals name operations that are gone)

  // A line stamped after `op` has no changes there: rolling back past its stamp would leave its
  // items with changes that do not exist. Refused, naming the lines.
  {
    FAB_TRY_ASSIGN(auto all_lines, factory.store().lines());
    std::vector<std::string> probes;
    std::map<std::string, std::string> line_of;
    for (const auto& line : all_lines) {
      FAB_TRY_ASSIGN(auto record, factory.store().load_line(line.id));
      for (const auto& item : record.items) {
        if (!item.change) continue;
        probes.push_back(item.change->str());
        line_of[item.change->str()] = line.id;
        break;
      }
    }
    if (!probes.empty()) {
      FAB_TRY_ASSIGN(auto there, repo.query(present_union(probes), full_op));
      std::set<std::string> found;
      for (const auto& c : there) found.insert(c.change_id.str());
      std::string missing;
      for (const auto& p : probes) {
        if (!found.count(p)) missing += (missing.empty() ? "" : ", ") + line_of[p];
      }
      if (!missing.empty()) {
        return fail(fmt::format("operation {} is older than the stamp of line(s) {}: their changes did not exist yet",
                                full_op.substr(0, 12), missing),
                    "pick an operation after those lines were stamped (see `fab oplog`)");
      }
    }
  }

  // Each item's state and attempts as of `op`, from its journal (caught up first).
  struct Then {
    ItemState state = ItemState::queued;
    int attempts = 0;
  };
  Store& store = factory.store();
  FAB_TRY_ASSIGN(auto lines, store.lines());
  std::vector<Repair> caught_up;
  {
    FAB_TRY_ASSIGN(auto now, repo.current_operation());
    for (const auto& line : lines) FAB_TRY(catch_up_journal(store, line.id, now, caught_up));
  }
  std::map<std::string, Then> then;
  for (const auto& line : lines) {
    FAB_TRY_ASSIGN(auto journal, store.journal(line.id));
    for (const auto& rec : journal) {
      if (rec.kind != "transition") continue;
      const auto rec_op = rec.str("op");
      if (rec_op.empty() || before.count(rec_op) == 0) continue;
      auto to = parse_item_state(rec.str("to"));
      if (!to) continue;
      auto& t = then[rec.str("item")];
      t.state = *to;
      if (auto a = rec.fields.find("attempts"); a != rec.fields.end() && a->is_number_integer()) t.attempts = *a;
    }
  }

  FAB_TRY(repo.with_cause(fmt::format("fab recover --to {}", full_op.substr(0, 12))).restore_operation(full_op));
  // The trunks are where that operation had them: fab continues from there (a rollback the user
  // asked for is no move behind fab's back).
  {
    OpLedger ledger;
    TrunkKeeper keeper(factory, ledger);
    std::set<std::string> trunks;
    for (const auto& line : lines) trunks.insert(line.trunk.empty() ? factory.config().trunk : line.trunk);
    for (const auto& t : trunks) (void)keeper.accept(t);
  }

  std::vector<Repair> repairs = std::move(caught_up);
  for (const auto& line : lines) {
    FAB_TRY_ASSIGN(auto record, store.load_line(line.id));
    for (const auto& item : record.items) {
      const Then t = then.count(item.id) ? then[item.id] : Then{};
      const bool finished_then = t.state == ItemState::merged || t.state == ItemState::dropped;
      if (finished_then) {
        if (item.state != t.state) {
          repairs.push_back({line.id, item.id, fmt::format("left {}: it was {} at {}, which cannot be redone by a rollback",
                                                           to_string(item.state), to_string(t.state), full_op.substr(0, 12))});
        }
        continue;
      }
      if (item.state == ItemState::queued && item.attempts == t.attempts) continue;
      auto reason = fmt::format("recovered: rolled back to operation {} (was {} then)", full_op.substr(0, 12),
                                to_string(t.state));
      const int attempts = t.attempts;
      FAB_TRY(store.rollback(item.id, reason, {{"op", full_op}, {"attempts", attempts}},
                             [attempts](Item& i) { i.attempts = attempts; }));
      repairs.push_back({line.id, item.id, fmt::format("{} -> queued: {}", to_string(item.state), reason.substr(11))});
    }
  }
  FAB_TRY(journal_repairs(store, repairs, "rollback to " + full_op));
  FAB_TRY_ASSIGN(auto more, repair_after_crash(factory));
  repairs.insert(repairs.end(), more.begin(), more.end());
  return repairs;
}

}  // namespace fab::engine
