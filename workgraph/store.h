#pragma once
// fab's durable work graph: lines and their items, stored under a factory directory
// (`<repo>/.factory/`):
//   lines/<line-id>/line.json      the line and all its items (replaced atomically)
//   lines/<line-id>/journal.jsonl  the line's append-only, checksummed history
//   lines/<line-id>/...            other per-line files callers keep (see line_dir())
//   lock                           flock taken around every read-modify-write
// Reads need no lock (files are replaced atomically); every change takes the lock, so concurrent
// fab processes never lose each other's updates. line.json is the truth; the journal is the history.
// A change writes line.json first and then the journal record, so the journal never claims
// something that did not happen (a crash in between loses at most that one record).
#include <filesystem>
#include <functional>
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

class Store {
 public:
  // Opens the factory at `factory_dir`, creating it and `lines/` if missing.
  static Result<Store> open(const std::filesystem::path& factory_dir);

  const std::filesystem::path& dir() const { return m_dir; }
  // Where a line's files live (whether or not the line exists).
  std::filesystem::path line_dir(const std::string& line_id) const;

  // Every line, oldest first.
  Result<std::vector<Line>> lines() const;
  // Every line with its per-state item counts, oldest first (what `fab status` shows).
  Result<std::vector<LineSummary>> summaries() const;
  // A line and all its items.
  Result<LineRecord> load_line(const std::string& line_id) const;
  // The item whose id or change id is `query`, else the one whose id or change id starts with it.
  // No match and more than one match are both Errors.
  Result<Item> find_item(const std::string& query) const;

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
  // Edits an item without changing its state (not journaled).
  Result<Item> update_item(const std::string& item_id, const ItemMutator& mutate);
  // Edits a line's own fields (blueprint, dropped, ...; not its id, items or creation time), saves,
  // and journals `record` (which says what changed, e.g. "reblueprint" with the new blueprint).
  Result<Line> update_line(const std::string& line_id, const std::function<void(Line&)>& mutate,
                           JournalRecord record);

  // A transition is saved in line.json first, then journaled: a process killed in between leaves
  // an item whose state is ahead of its journal. This journals each such missing transition (from
  // the state the journal last gave the item, to its saved state) with `reason` and `extra`, and
  // returns "<item> <from> -> <to>" for each. Recovery calls it before anything else.
  Result<std::vector<std::string>> journal_lost_transitions(const std::string& line_id, const std::string& reason,
                                                            const nlohmann::json& extra = nlohmann::json::object());

  // Appends a record of any kind ("note", ...) to a line's journal; an empty time is set to now.
  Status append_journal(const std::string& line_id, JournalRecord record);
  // A line's journal, oldest first (a torn last record is cut with a warning).
  Result<std::vector<JournalRecord>> journal(const std::string& line_id);

 private:
  explicit Store(std::filesystem::path dir);
  std::filesystem::path lines_dir() const { return m_dir / "lines"; }
  std::filesystem::path lock_file() const { return m_dir / "lock"; }
  Result<std::vector<std::string>> line_ids() const;
  Status save_line(const LineRecord& record) const;
  Result<Item> modify_item(const std::string& item_id, const std::optional<ItemState>& to,
                           TransitionKind kind, const std::string& reason,
                           const nlohmann::json& extra, const ItemMutator& mutate);

  std::filesystem::path m_dir;
  std::mt19937_64 m_rng;
};

}  // namespace fab
