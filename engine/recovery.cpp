#include "engine/recovery.h"

#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "blueprints/stamp.h"
#include "engine/cause.h"
#include "engine/item_files.h"
#include "engine/line_blueprint.h"
#include "engine/op_retention.h"
#include "engine/orphans.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

std::string trunk_of(const Factory& factory, const Line& line) {
  auto bp = load_line_blueprint(factory.store(), line);
  return bp ? bp->trunk : factory.config().trunk;
}

// `present(a) | present(b) | ...`: the changes among `ids` that exist (no error for those that don't).
std::string present_set(const std::vector<std::string>& ids) {
  std::string set;
  for (const auto& id : ids) set += (set.empty() ? "" : " | ") + fmt::format("present({})", id);
  return set.empty() ? "none()" : set;
}

struct Where {
  std::set<std::string> exists;    // item changes in the repo
  std::set<std::string> in_trunk;  // ... that trunk contains
};

// Where the item changes `ids` are: two reads.
Result<Where> locate(const Repo& repo, const std::vector<std::string>& ids, const std::string& trunk) {
  Where w;
  if (ids.empty()) return w;
  const auto items = present_set(ids);
  FAB_TRY_ASSIGN(auto commits, repo.query(items));
  for (const auto& c : commits) w.exists.insert(c.change_id.str());
  // (bookmarks(exact:...) is empty, not an error, when the trunk bookmark is missing.)
  FAB_TRY_ASSIGN(auto on_trunk,
                 repo.query(fmt::format("({}) & ::bookmarks(exact:{})", items, revset_string(trunk))));
  for (const auto& c : on_trunk) w.in_trunk.insert(c.change_id.str());
  return w;
}

// An item waiting to start may sit on another item's change: a merge chain cut short by a crash
// (the items recovery just put back in the queue), or one `fab recover --to` rolled back to (queued
// again, with the attempts it had then). Each goes back onto trunk on its own (a multi-revision
// `jj rebase -r` at its start would keep the edge), so its next agent does not see the other's
// unmerged work. Items that never started sit where stamping put them and are not looked at.
Status unstack(Factory& factory, const LineRecord& record, const std::string& trunk,
               std::vector<std::string> requeued, std::vector<Repair>& repairs) {
  for (const auto& item : record.items) {
    const bool waiting = item.state == ItemState::queued || item.state == ItemState::rework;
    if (waiting && item.attempts > 0 && item.change) requeued.push_back(item.change->str());
  }
  if (requeued.empty()) return {};
  std::vector<std::string> all;
  std::map<std::string, std::string> item_of;
  for (const auto& item : record.items) {
    if (!item.change) continue;
    all.push_back(item.change->str());
    item_of[item.change->str()] = item.id;
  }
  // (present(): an item whose change vanished is dropped, not an error here.)
  FAB_TRY_ASSIGN(auto stacked, factory.repo().query(fmt::format("({}) & children(({}) ~ ::{})", present_set(requeued),
                                                                present_set(all), revset_string(trunk))));
  for (const auto& c : stacked) {
    const auto& id = item_of[c.change_id.str()];
    Repo repo = factory.repo().with_cause(format_cause(record.line.id, {id}, "queued (recovered: back onto " + trunk + ")"));
    FAB_TRY(repo.rebase_revisions({c.change_id}, trunk));
    repairs.push_back({record.line.id, id, "moved back onto " + trunk + " (it sat on another item's change)"});
  }
  return {};
}

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

Status repair_items(Factory& factory, std::vector<Repair>& repairs) {
  Store& store = factory.store();
  FAB_TRY_ASSIGN(auto lines, store.lines());
  FAB_TRY_ASSIGN(auto op, factory.repo().current_operation());
  for (const auto& line : lines) {
    FAB_TRY(catch_up_journal(store, line.id, op, repairs));
    FAB_TRY_ASSIGN(auto record, store.load_line(line.id));
    const auto trunk = trunk_of(factory, line);
    std::vector<std::string> ids;
    for (const auto& item : record.items) {
      if (item.change) ids.push_back(item.change->str());
    }
    FAB_TRY_ASSIGN(auto where, locate(factory.repo(), ids, trunk));
    std::vector<std::string> requeued;
    for (const auto& item : record.items) {
      const std::string change = item.change ? item.change->str() : std::string{};
      const bool on_trunk = where.in_trunk.count(change) > 0;
      const auto from = std::string(to_string(item.state));
      nlohmann::json extra{{"op", op}};
      if (item.change && !where.exists.count(change) && item.state != ItemState::dropped) {
        // Someone abandoned it (or restored the repo to before it existed): the item cannot be
        // built any more. Dropped, with the reason, so the line can finish.
        auto reason = fmt::format("recovered: its change {} is no longer in the repo", item.change->short_id(12));
        if (item.state == ItemState::merged) FAB_TRY(store.rollback(item.id, reason, extra));
        FAB_TRY(store.transition(item.id, ItemState::dropped, reason, extra,
                                 [&](Item& i) { i.drop_reason = reason.substr(11); }, TransitionKind::recovery));
        repairs.push_back({line.id, item.id, fmt::format("{} -> dropped: {}", from, reason.substr(11))});
      } else if (item.state == ItemState::refining && on_trunk) {
        auto reason = fmt::format("recovered: {} already contains its change", trunk);
        FAB_TRY(store.transition(item.id, ItemState::merged, reason, extra));
        repairs.push_back({line.id, item.id, "refining -> merged: " + reason.substr(11)});
      } else if (item.state == ItemState::building || item.state == ItemState::inspecting ||
                 item.state == ItemState::refining) {
        auto reason = fmt::format("recovered: interrupted while {} (attempt {} not counted)", from, item.attempts);
        FAB_TRY(store.transition(item.id, ItemState::queued, reason, extra, [](Item& i) {
          if (i.attempts > 0) --i.attempts;
        }, TransitionKind::recovery));
        repairs.push_back({line.id, item.id, fmt::format("{} -> queued: {}", from, reason.substr(11))});
        if (item.change) requeued.push_back(change);
      } else if (item.state == ItemState::merged && !on_trunk && item.change) {
        auto reason = fmt::format("recovered: merged, but {} does not contain its change", trunk);
        FAB_TRY(store.rollback(item.id, reason, extra));
        repairs.push_back({line.id, item.id, "merged -> queued: " + reason.substr(11)});
        requeued.push_back(change);
      }
    }
    FAB_TRY(unstack(factory, record, trunk, requeued, repairs));
  }
  return {};
}

// A damaged line.json is rebuilt from its line's journal (Store::repair_line), and said so.
Status repair_line_files(Store& store, std::vector<Repair>& repairs) {
  FAB_TRY_ASSIGN(auto listing, store.list_lines());
  for (const auto& s : listing.lines) {
    FAB_TRY_ASSIGN(auto what, store.repair_line(s.line.id));
    if (what) repairs.push_back({s.line.id, "", *what});
  }
  return {};
}

Status repair_workspaces(Factory& factory, std::vector<Repair>& repairs) {
  FAB_TRY_ASSIGN(auto list, factory.repo().workspaces());
  for (const auto& ws : list) {
    std::string item;
    if (!is_fab_workspace(ws.name, &item)) continue;
    Repo repo = factory.repo().with_cause(fmt::format("fab recover: forget workspace {}", ws.name));
    // (Items' changes are described, so forgetting a workspace whose working copy is one never
    // abandons it: whatever the last snapshot recorded stays in the change.)
    FAB_TRY(repo.forget_workspace(ws.name, workspace_dir(factory, item)));
    const bool pooled = item.rfind("pool-", 0) == 0;
    repairs.push_back({"", pooled ? "" : item, fmt::format("forgot workspace {} (no run owns it)", ws.name)});
  }
  std::error_code ec;
  for (fs::directory_iterator it(factory.workspaces_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code rm;
    fs::remove_all(it->path(), rm);
    if (rm) return fail(fmt::format("cannot remove '{}': {}", it->path().string(), rm.message()));
    repairs.push_back({"", "", fmt::format("removed stray directory {}", it->path().string())});
  }
  return {};
}

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

}  // namespace

Result<std::vector<Repair>> repair_after_crash(Factory& factory) {
  std::vector<Repair> repairs;
  wait_for_orphaned_jj(factory.root(), std::chrono::seconds(10));
  FAB_TRY_ASSIGN(auto stamps, clean_interrupted_stamps(factory));
  for (auto& s : stamps) repairs.push_back({"", "", std::move(s)});
  FAB_TRY(repair_line_files(factory.store(), repairs));
  FAB_TRY(repair_items(factory, repairs));
  FAB_TRY(repair_workspaces(factory, repairs));
  FAB_TRY(journal_repairs(factory.store(), repairs, "crash repair"));
  return repairs;
}

Result<std::vector<Repair>> recover_to_operation(Factory& factory, const std::string& op) {
  const Repo& repo = factory.repo();
  // The operations the repo had at `op`: `op` itself and its ancestors.
  auto listed = repo.run({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""}, {.at_operation = op, .allow_failure = true});
  if (!listed) return fail(listed.error());
  if (listed->exit_code != 0) {
    return fail(Error(fmt::format("'{}' is not an operation of this repo", op)).caused_by(listed->err),
                "pick one from `fab oplog`");
  }
  std::set<std::string> before;
  std::string full_op;
  std::istringstream in(listed->out);
  for (std::string id; std::getline(in, id);) {
    if (id.empty()) continue;
    if (full_op.empty()) full_op = id;
    before.insert(id);
  }
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
      FAB_TRY_ASSIGN(auto there, repo.query(present_set(probes), full_op));
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
