#pragma once
// fab's durable work graph: lines and their items, stored under a factory directory
// (`<repo>/.factory/`):
//   lines/<line-id>/journal.jsonl  the line's append-only, checksummed history, and the truth: every
//                                  change is one record of it (workgraph/line_replay.h)
//   lines/<line-id>/line.json      a checkpoint: the line and its items as of a point of the journal
//   lines/<line-id>/...            other per-line files callers keep (see line_dir())
//   lock                           flock taken around every read-modify-write
// A change takes the lock, reads what the journal gained since this Store last looked, and
// appends one record (fsynced): that append *is* the change, so a crash at any instant leaves it
// wholly done or not done, the journal never claims what did not happen, and concurrent fab
// processes never lose each other's updates. line.json is rewritten (atomically) only when the
// records after it outgrow an eighth of its size (and at least checkpoint_min_bytes), so a change
// costs the same on a line of 40 items as on one of 2 000. Reads need no lock (line.json is
// replaced atomically and the journal only grows): the checkpoint plus the records after it. A Store
// keeps each line it has read in memory and applies only the records appended since (a stat of each
// file tells it); copies of a Store share that memory, and it is safe to use from several threads.
// A damaged line.json (missing, truncated, not JSON, counts wrong) is read from the journal instead
// and rewritten by the next change or repair_line(); a bad record in a line's journal makes that
// line's reads fail, never the other lines'.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "substrate/error.h"
#include "workgraph/item.h"
#include "workgraph/item_state.h"
#include "workgraph/journal.h"

namespace fab {

// Edits an item in place (attempts, change_id, drop_reason, body, extra, ...). It must not change
// the item's id, line or state.
using ItemMutator = std::function<void(Item&)>;

struct StoreOptions {
  // line.json is rewritten once the journal records after it exceed checkpoint_bound(its size):
  // a checkpoint costs its size once per (size / divisor) bytes of records, so a change costs the
  // same amortized whatever the size of the line, and a reader replays at most that much.
  std::uint64_t checkpoint_min_bytes = 64 * 1024;
  std::uint64_t checkpoint_divisor = 8;
  std::uint64_t checkpoint_bound(std::uint64_t line_file_size) const {
    return std::max(checkpoint_min_bytes, line_file_size / checkpoint_divisor);
  }
};

// A line that cannot be read, and why.
struct DamagedLine {
  std::string id;
  Error error;
};

// Every line that can be read, with its per-state counts, oldest first; the others apart.
struct LineListing {
  std::vector<LineSummary> lines;
  std::vector<DamagedLine> damaged;  // by id
};

class Store {
 public:
  // Opens the factory at `factory_dir`, creating it and `lines/` if missing.
  static Result<Store> open(const std::filesystem::path& factory_dir, StoreOptions options = {});

  const std::filesystem::path& dir() const { return m_dir; }
  // Where a line's files live (whether or not the line exists).
  std::filesystem::path line_dir(const std::string& line_id) const;

  // Whether the line exists (its directory does), readable or not.
  bool has_line(const std::string& line_id) const;
  // Every line, readable or not (what `fab status` shows; a floor runs the readable ones).
  Result<LineListing> list_lines() const;
  // Every line, oldest first; an Error if one cannot be read (list_lines() says which).
  Result<std::vector<Line>> lines() const;
  // Every line with its per-state item counts, oldest first; an Error if one cannot be read.
  Result<std::vector<LineSummary>> summaries() const;
  // A line and all its items.
  Result<LineRecord> load_line(const std::string& line_id) const;
  // The item whose id or change id is `query`, else the one whose id or change id starts with it.
  // No match and more than one match are both Errors. An exact item id reads only its own line.
  Result<Item> find_item(const std::string& query) const;
  // The digest of the blueprint the line was stamped with, or last given by replace_blueprint(),
  // as its journal recorded it (not line.json, which can be edited behind fab's back).
  Result<std::string> stamped_blueprint_digest(const std::string& line_id) const;

  // A fresh random line id not used by any line here.
  Result<std::string> new_line_id();

  // Stores a new line and its items, all or nothing, and journals "line_created". Items must be
  // "<line>.1".."<line>.N" in order; an empty line.items is filled in from them; an empty
  // line.created is set to now.
  Status create_line(Line line, std::vector<Item> items);

  // Moves an item to state `to` (checked against kTransitionTable; recovery-only rules need
  // TransitionKind::recovery), applies `mutate`, saves, and journals a "transition" record with
  // item, from, to, reason and the `extra` fields ("op", "attempt", "feedback", ...).
  Result<Item> transition(const std::string& item_id, ItemState to, const std::string& reason,
                          const nlohmann::json& extra = nlohmann::json::object(),
                          const ItemMutator& mutate = {},
                          TransitionKind kind = TransitionKind::normal);
  // Recovery: puts an item back to queued from any state, including merged and dropped.
  Result<Item> rollback(const std::string& item_id, const std::string& reason,
                        const nlohmann::json& extra = nlohmann::json::object(),
                        const ItemMutator& mutate = {});
  // Edits an item without changing its state; journaled as an "update" record (none if nothing
  // changed).
  Result<Item> update_item(const std::string& item_id, const ItemMutator& mutate);
  // Edits a line's own fields (blueprint, dropped, ...; not its id, items or creation time), saves,
  // and journals `record` (which says what changed, e.g. "reblueprint" with the new blueprint).
  Result<Line> update_line(const std::string& line_id, const std::function<void(Line&)>& mutate,
                           JournalRecord record);
  // Gives the line another blueprint (`fab line reblueprint`): its YAML, the digest of it, and the
  // file it came from, journaled as {"kind":"reblueprint","blueprint_digest":...}.
  Result<Line> replace_blueprint(const std::string& line_id, const std::string& yaml, const std::string& file);

  // Checks line.json against the journal and rewrites it when it is damaged or disagrees (the
  // journal wins; the old file is kept beside it as line.json.damaged-<time>). Returns what it did,
  // or nothing when all was well. An Error when the line cannot be read even from its journal, or
  // the journal has a bad record. Reads the whole journal: for `fab recover`, not for every run.
  Result<std::optional<std::string>> repair_line(const std::string& line_id);

  // A factory written by an older fab may hold an item whose state in line.json is ahead of its
  // journal (that fab saved line.json first and journaled second). This journals each such missing
  // transition (from the state the journal last gave the item, to its saved state) with `reason`
  // and `extra`, and returns "<item> <from> -> <to>" for each. Recovery calls it before anything
  // else; with this Store, where the journal record is the change, it never finds any.
  Result<std::vector<std::string>> journal_lost_transitions(const std::string& line_id, const std::string& reason,
                                                            const nlohmann::json& extra = nlohmann::json::object());

  // Appends a record of any kind ("note", ...) to a readable line's journal; an empty time is set
  // to now. It may not use the store's own fields ("set", "unset", "contents").
  Status append_journal(const std::string& line_id, JournalRecord record);
  // A line's journal, oldest first (a torn last record is cut with a warning).
  Result<std::vector<JournalRecord>> journal(const std::string& line_id);

 private:
  struct Cache;
  struct CachedLine;
  Store(std::filesystem::path dir, StoreOptions options);
  std::filesystem::path lines_dir() const { return m_dir / "lines"; }
  std::filesystem::path lock_file() const { return m_dir / "lock"; }
  Result<std::vector<std::string>> line_ids() const;
  // The line as it is now, in the cache (whose mutex the caller holds).
  Result<CachedLine*> current(const std::string& line_id) const;
  Result<CachedLine> read_line(const std::string& line_id) const;
  Status catch_up(CachedLine& line) const;
  Result<LineSummary> summary_of(const std::string& line_id) const;
  // Appends a record to the line's journal (under both locks), applies what it changes to the
  // cache, and rewrites line.json when the records after it have outgrown the bound.
  Status commit(CachedLine& line, JournalRecord record) const;
  Status write_checkpoint(CachedLine& line) const;
  Result<Item> modify_item(const std::string& item_id, const std::optional<ItemState>& to,
                           TransitionKind kind, const std::string& reason,
                           const nlohmann::json& extra, const ItemMutator& mutate);

  std::filesystem::path m_dir;
  StoreOptions m_options;
  std::shared_ptr<Cache> m_cache;
  std::mt19937_64 m_rng;
};

}  // namespace fab
