#pragma once
// The work graph's records: a Line (one requirement being built with one blueprint) and its Items
// (the work items it was split into), with their JSON forms.
//   Item: {"id","line","title","state","change_id","depends_on","attempts","drop_reason","body","feedback"}
//   Line: {"id","blueprint","requirement","created","items","trunk","blueprint_yaml","blueprint_digest",
//          "blueprint_file","dropped"}
// Unknown JSON fields are kept in `extra` and written back unchanged. That is the stored form; what
// `--json` outputs show is the public form, without body or extras (to_public_json).
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "substrate/change_id.h"
#include "substrate/error.h"
#include "workgraph/item_state.h"

namespace fab {

struct Item {
  std::string id;                       // "<line>.<n>"
  std::string line;                     // the line id
  std::string title;
  ItemState state = ItemState::queued;
  std::optional<ChangeId> change;       // the jj change building it (null in JSON if none)
  std::vector<std::string> depends_on;  // item ids
  int attempts = 0;
  std::string drop_reason;              // why it was dropped; empty (null in JSON) otherwise
  std::string body;                     // the item's markdown text
  std::string feedback;                 // why the last attempt failed (the next attempt's input); "" if none
  nlohmann::json extra = nlohmann::json::object();
};

struct Line {
  std::string id;
  std::string blueprint;
  std::string requirement;
  std::string created;              // ISO-8601 UTC
  std::vector<std::string> items;   // item ids, in order
  std::string trunk;                // the bookmark its items land on (decided at stamp time)
  // The blueprint the line runs with: the YAML as stamped (or as `fab line reblueprint` replaced
  // it), kept here and nowhere an agent's workspace can reach; never re-read from a file.
  std::string blueprint_yaml;
  std::string blueprint_digest;     // blueprint_digest(blueprint_yaml), checked before each run
  std::string blueprint_file;       // where it was stamped from (for people; never read)
  std::string dropped;              // when `fab line drop` dropped it (ISO-8601 UTC); empty: live
  nlohmann::json extra = nlohmann::json::object();
};

// A line with all its items (what `lines/<id>/line.json` holds).
struct LineRecord {
  Line line;
  std::vector<Item> items;

  const Item* find(const std::string& item_id) const;
  Item* find(const std::string& item_id);
};

// A line and how many of its items are in each state.
struct LineSummary {
  Line line;
  std::array<std::size_t, kItemStateCount> counts{};

  std::size_t count(ItemState s) const { return counts[static_cast<std::size_t>(s)]; }
  std::size_t total() const;
};

// The digest line.json keeps of a line's blueprint text ("crc32:<8 hex digits>"): a blueprint
// edited behind fab's back no longer matches it.
std::string blueprint_digest(std::string_view yaml);
// The change's ID for display: the first `n` characters, or "-" for none.
std::string short_change(const Item& item, std::size_t n = 12);

// The stored form (line.json): every field, extras included.
nlohmann::json to_json(const Item& item);
nlohmann::json to_json(const Line& line);
// The public form, for `--json` outputs: exactly
//   {"id","line","title","state","change_id","depends_on","attempts","drop_reason"} and
//   {"id","blueprint","requirement","created","items": [item ids],"dropped": time or null}.
nlohmann::json to_public_json(const Item& item);
nlohmann::json to_public_json(const Line& line);
// `where` names the object in errors ("item 3").
Result<Item> item_from_json(nlohmann::json j, const std::string& where);
Result<Line> line_from_json(nlohmann::json j, const std::string& where);

}  // namespace fab
