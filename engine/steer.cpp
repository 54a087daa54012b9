#include "engine/steer.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/cause.h"
#include "engine/item_files.h"
#include "engine/recovery.h"
#include "engine/run_control.h"
#include "engine/trunk.h"
#include "workgraph/durable_file.h"
#include "workgraph/timestamp.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

tl::unexpected<Error> refuse(const Item& item, const std::string& why, const std::string& hint) {
  return fail(Error(fmt::format("cannot retry {}: {}", item.id, why)).with_hint(hint));
}

std::string steered_trunk(const Factory& factory, const Line& line) {
  return line.trunk.empty() ? factory.config().trunk : line.trunk;
}

// Whether `item` may be retried: dropped, or merged with its change no longer on trunk; of a line
// not dropped; behind no dropped dependency that is not retried with it (`retrying`).
Status check_retry(Factory& factory, const LineRecord& line, const Item& item, const std::set<std::string>& retrying) {
  if (!line.line.dropped.empty()) {
    return refuse(item, fmt::format("its line {} was dropped", line.line.id),
                  "stamp the requirement again (`fab stamp BLUEPRINT REQUIREMENT --again`) to build it anew");
  }
  switch (item.state) {
    case ItemState::dropped: break;
    case ItemState::merged: {
      if (!item.change) break;
      const std::string trunk = steered_trunk(factory, line.line);
      FAB_TRY_ASSIGN(auto on_trunk, factory.repo().query(fmt::format("present({}) & ::bookmarks(exact:{})",
                                                                     item.change->str(), revset_string(trunk))));
      if (!on_trunk.empty()) {
        return refuse(item, fmt::format("it is merged and its change {} is on {}", item.change->short_id(), trunk),
                      fmt::format("only a merge that {} no longer has can be retried; take it off {} first "
                                  "(e.g. `fab recover --to` an operation before it landed)",
                                  trunk, trunk));
      }
      break;
    }
    case ItemState::queued:
    case ItemState::rework:
      return refuse(item, fmt::format("it is {}: it is waiting to be built", to_string(item.state)),
                    "`fab run` builds it; `fab item show " + item.id + "` shows its attempts so far");
    default:
      return refuse(item, fmt::format("it is {}: a `fab run` is working on it", to_string(item.state)),
                    "wait until it is merged or dropped (`fab item show " + item.id +
                        "`); after a crash, run `fab recover` first");
  }
  for (const auto& dep : item.depends_on) {
    const Item* d = line.find(dep);
    if (d && d->state == ItemState::dropped && !retrying.count(dep)) {
      return refuse(item, fmt::format("it depends on {} ({}), which is dropped", d->id, d->title),
                    fmt::format("retry both: `fab item retry {} {}`", d->id, item.id));
    }
  }
  return {};
}

// Moves items/<item>/attempt-* into items/<item>/round-<round>/ (never over a file already there);
// returns that directory relative to the line's, or "" when there was nothing to move.
Result<std::string> archive_attempts(const Factory& factory, const Item& item, int round) {
  const fs::path dir = item_dir(factory, item);
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().filename().string().starts_with("attempt-")) files.push_back(it->path());
  }
  if (files.empty()) return std::string();
  const fs::path to = dir / fmt::format("round-{}", round);
  fs::create_directories(to, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", to.string(), ec.message()));
  for (const auto& f : files) {
    if (fs::exists(to / f.filename(), ec)) {
      return fail(fmt::format("cannot keep '{}': '{}' already holds a file of that name", f.string(), to.string()),
                  "move one of them aside, then retry again");
    }
  }
  for (const auto& f : files) {
    fs::rename(f, to / f.filename(), ec);
    if (ec) return fail(fmt::format("cannot move '{}' into '{}': {}", f.string(), to.string(), ec.message()));
  }
  return fs::relative(to, factory.store().line_dir(item.line), ec).string();
}

}  // namespace

Result<std::vector<Retried>> retry_items(Factory& factory, const std::vector<std::string>& queries,
                                         std::vector<std::string>* notes) {
  std::vector<Item> items;
  std::set<std::string> ids;
  for (const auto& q : queries) {
    FAB_TRY_ASSIGN(auto item, factory.store().find_item(q));
    if (ids.insert(item.id).second) items.push_back(std::move(item));
  }
  // Everything is checked before anything changes.
  for (const auto& item : items) {
    FAB_TRY_ASSIGN(auto line, factory.store().load_line(item.line));
    FAB_TRY(check_retry(factory, line, item, ids));
  }
  std::vector<Retried> done;
  for (const auto& item : items) {
    FAB_TRY_ASSIGN(auto line, factory.store().load_line(item.line));
    Retried r;
    const std::string trunk = steered_trunk(factory, line.line);
    std::optional<ChangeId> change = item.change;
    if (change) {
      FAB_TRY_ASSIGN(auto there, factory.repo().query(fmt::format("present({})", change->str())));
      if (there.empty()) change.reset();
    }
    if (!change) {
      // Its change was abandoned (behind fab's back, or by a drop): a new one on trunk, as a stamp makes.
      Repo repo = factory.repo().with_cause(
          format_cause(item.line, {item.id}, fmt::format("{} -> queued (retry: new change)", to_string(item.state))));
      FAB_TRY_ASSIGN(auto fresh, repo.create_change(trunk, item_change_description(item.title, item.line, item.id)));
      change = fresh;
      r.new_change = true;
    }
    FAB_TRY_ASSIGN(auto journal, factory.store().journal(item.line));
    r.round = 2;
    for (const auto& rec : journal) {
      if (rec.kind == "transition" && rec.str("item") == item.id && rec.str("steer") == "retry") ++r.round;
    }
    FAB_TRY_ASSIGN(r.archived, archive_attempts(factory, item, r.round - 1));
    FAB_TRY_ASSIGN(auto op, factory.repo().current_operation());
    json extra = {{"steer", "retry"}, {"round", r.round},         {"op", op},
                  {"attempts", 0},    {"previous_attempts", item.attempts}};
    if (!r.archived.empty()) extra["archived"] = r.archived;
    if (r.new_change) extra["change_id"] = change->str();
    FAB_TRY_ASSIGN(r.item, factory.store().transition(
                               item.id, ItemState::queued,
                               fmt::format("retried by the operator (fab item retry); was {}", to_string(item.state)),
                               extra,
                               [&](Item& i) {
                                 i.attempts = 0;
                                 i.drop_reason.clear();
                                 i.feedback.clear();
                                 i.change = change;
                               },
                               TransitionKind::recovery));
    if (notes) {
      for (const auto& other : line.items) {
        const bool behind = std::find(other.depends_on.begin(), other.depends_on.end(), item.id) != other.depends_on.end();
        if (behind && other.state == ItemState::dropped && !ids.count(other.id)) {
          notes->push_back(fmt::format("{} ({}) depends on {} and stays dropped: `fab item retry {}` retries it too",
                                       other.id, other.title, item.id, other.id));
        }
      }
    }
    done.push_back(std::move(r));
  }
  // A merged item is retried because its trunk no longer holds it: the operator moved that trunk
  // (backwards or sideways), and fab would not land on it again. Retrying says the trunk is where
  // it should be: it is accepted as it is now (when no run holds the factory; else a note says how).
  std::set<std::string> moved_trunks;
  for (const auto& item : items) {
    if (item.state != ItemState::merged) continue;
    FAB_TRY_ASSIGN(auto line, factory.store().load_line(item.line));
    moved_trunks.insert(steered_trunk(factory, line.line));
  }
  for (const auto& trunk : moved_trunks) {
    OpLedger ledger;
    TrunkKeeper keeper(factory, ledger);
    FAB_TRY_ASSIGN(auto state, keeper.start(trunk));
    if (!state.halted) continue;
    auto lock = take_run_lock(factory, "accept trunk " + trunk);
    if (!lock) {
      if (notes) notes->push_back(fmt::format("{} stays halted while this run goes on ({}): `fab recover --accept-trunk {}` "
                                              "once it ends", trunk, state.why, trunk));
      continue;
    }
    FAB_TRY_ASSIGN(auto repairs, accept_trunk(factory, trunk));
    if (notes) {
      for (const auto& rep : repairs) notes->push_back((rep.item.empty() ? "" : rep.item + ": ") + rep.what);
    }
  }
  return done;
}

Result<bool> reblueprint_line(Factory& factory, const std::string& line_id, const fs::path& file,
                              const BlueprintCheck& check) {
  FAB_TRY_ASSIGN(auto line, factory.store().load_line(line_id));
  if (!line.line.dropped.empty()) {
    return fail(fmt::format("line {} was dropped ({})", line_id, line.line.dropped),
                "stamp its requirement again with the new blueprint: `fab stamp BLUEPRINT REQUIREMENT --again`");
  }
  FAB_TRY_ASSIGN(auto bp, parse_blueprint_file(file));
  if (check) FAB_TRY(check(bp));
  const std::string trunk = steered_trunk(factory, line.line);
  if (bp.trunk_given && bp.trunk != trunk) {
    return fail(fmt::format("{}: the blueprint lands on '{}', but line {} lands on '{}'", file.string(), bp.trunk,
                            line_id, trunk),
                fmt::format("a line's trunk is decided when it is stamped: remove `trunk:` or set it to {}", trunk));
  }
  if (bp.source_text == line.line.blueprint_yaml) return false;
  const std::string digest = blueprint_digest(bp.source_text);
  const std::string abs = fs::absolute(file).lexically_normal().string();
  JournalRecord record;
  record.kind = "reblueprint";
  record.fields = {{"blueprint", bp.name},
                   {"blueprint_digest", digest},
                   {"blueprint_file", abs},
                   {"previous_digest", line.line.blueprint_digest}};
  FAB_TRY(factory.store().update_line(
      line_id,
      [&](Line& l) {
        l.blueprint = bp.name;
        l.blueprint_yaml = bp.source_text;
        l.blueprint_digest = digest;
        l.blueprint_file = abs;
      },
      std::move(record)));
  // The copy for people to read next to the journal (fab never reads it).
  FAB_TRY(write_file_atomic(factory.store().line_dir(line_id) / "blueprint.yaml", bp.source_text));
  return true;
}

Result<LineDrop> drop_line(Factory& factory, const std::string& line_id, const std::string& reason) {
  FAB_TRY_ASSIGN(auto line, factory.store().load_line(line_id));
  auto lock = take_run_lock(factory, "drop line " + line_id);
  if (!lock) {
    return fail(lock.error().with_hint(
        "stop it with `fab stop --wait`, drop the line, then start `fab run` again (a run holds the items it is "
        "building; dropping them under it is not safe)"));
  }
  LineDrop out;
  out.already = !line.line.dropped.empty();
  const std::string why = fmt::format("line dropped by the operator (fab line drop){}", reason.empty() ? "" : ": " + reason);
  FAB_TRY_ASSIGN(auto op, factory.repo().current_operation());
  for (const auto& item : line.items) {
    if (item.state == ItemState::merged || item.state == ItemState::dropped) continue;
    FAB_TRY(factory.store().transition(item.id, ItemState::dropped, why, {{"op", op}, {"attempts", item.attempts}},
                                       [&](Item& i) { i.drop_reason = why; }));
    out.dropped.push_back(item.id);
  }
  // The changes of every item not merged, those still there and not on trunk: one operation, or
  // one per piece of the revset for a big line (present_unions: ~1,500 items), so that each revset
  // and each operation's cause (its items' IDs) fits one command-line argument (Linux refuses one
  // over 128 KiB).
  std::vector<const Item*> candidates;
  for (const auto& item : line.items) {
    if (item.state != ItemState::merged && item.change) candidates.push_back(&item);
  }
  const std::string trunk = steered_trunk(factory, line.line);
  std::map<std::string, std::string> owner;  // change ID -> item ID
  std::vector<std::string> changes;
  for (const auto* c : candidates) {
    changes.push_back(c->change->str());
    owner[c->change->str()] = c->id;
  }
  for (const auto& set : present_unions(changes)) {
    FAB_TRY_ASSIGN(auto left, factory.repo().query(fmt::format("({}) ~ ::bookmarks(exact:{})", set, revset_string(trunk))));
    std::vector<ChangeId> abandon;
    std::vector<std::string> owners;  // the items whose changes these are, for the operation's cause
    for (const auto& c : left) {
      abandon.push_back(c.change_id);
      if (auto o = owner.find(c.change_id.str()); o != owner.end()) owners.push_back(o->second);
    }
    if (abandon.empty()) continue;
    FAB_TRY(factory.repo().with_cause(format_cause(line_id, owners, "dropped (line dropped: abandon)")).abandon(abandon));
    FAB_TRY_ASSIGN(out.operation, factory.repo().current_operation());
    out.abandoned.insert(out.abandoned.end(), abandon.begin(), abandon.end());
  }
  if (out.already && out.dropped.empty() && out.abandoned.empty()) return out;
  JournalRecord record;
  record.kind = "line_dropped";
  record.fields = {{"reason", why}, {"items", out.dropped}, {"op", out.operation.empty() ? op : out.operation},
                   {"abandoned", json::array()}};
  for (const auto& c : out.abandoned) record.fields["abandoned"].push_back(c.str());
  const std::string when = out.already ? line.line.dropped : iso_utc_now();
  FAB_TRY(factory.store().update_line(line_id, [&](Line& l) { l.dropped = when; }, std::move(record)));
  return out;
}

}  // namespace fab::engine
