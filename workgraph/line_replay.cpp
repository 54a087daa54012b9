#include "workgraph/line_replay.h"

#include <fmt/format.h>

#include "workgraph/ids.h"
#include "workgraph/line_file.h"

namespace fab {

namespace {

using nlohmann::json;

const char* kReplayHint =
    "the journal holds a change fab cannot apply: it was edited by hand or written by another program; "
    "restore it from a backup, or move the line's directory out of .factory/lines";

Error bad_change(const std::string& where, const std::string& what) {
  return Error(fmt::format("{}: {}", where, what)).with_hint(kReplayHint);
}

// `stored` with the record's "unset" keys removed and its "set" keys applied.
Result<json> changed(json stored, const JournalRecord& record, const std::string& where) {
  const auto& set = record.fields.at("set");
  if (!set.is_object()) return fail(bad_change(where, "\"set\" is not an object"));
  if (auto unset = record.fields.find("unset"); unset != record.fields.end()) {
    if (!unset->is_array()) return fail(bad_change(where, "\"unset\" is not a list"));
    for (const auto& key : *unset) {
      if (!key.is_string()) return fail(bad_change(where, "\"unset\" holds something other than field names"));
      stored.erase(key.get<std::string>());
    }
  }
  stored.update(set);
  return stored;
}

// What `item` (of line `line_id`, `item_count` items) becomes by the record, checked.
Result<Item> changed_item(const Item& item, const std::string& line_id, std::size_t item_count,
                          const JournalRecord& record, const std::string& where) {
  FAB_TRY_ASSIGN(json j, changed(to_json(item), record, where));
  FAB_TRY_ASSIGN(Item edited, item_from_json(std::move(j), where));
  if (edited.id != item.id || edited.line != item.line) {
    return fail(bad_change(where, fmt::format("changes the id or line of item {}", item.id)));
  }
  if (auto ok = validate_item(line_id, item_count, edited); !ok) {
    return fail(bad_change(where, ok.error().message));
  }
  return edited;
}

// Whether every field the record sets is one of the item's plain fields with a value of the right
// type (what nearly every record sets), so it cannot make an invalid item; false when in doubt.
bool sets_only_plain_fields(const JournalRecord& record) {
  if (auto unset = record.fields.find("unset"); unset != record.fields.end()) {
    if (!unset->is_array()) return false;
    for (const auto& key : *unset) {
      if (key != "feedback") return false;  // (the one optional plain field)
    }
  }
  for (const auto& [key, value] : record.fields.at("set").items()) {
    const bool string_or_null = value.is_string() || value.is_null();
    if (key == "state") {
      if (!value.is_string() || !parse_item_state(value.get_ref<const std::string&>())) return false;
    } else if (key == "attempts") {
      if (!value.is_number_integer() || value.get<long long>() < 0 || value.get<long long>() > 1000000000) return false;
    } else if (key == "change_id") {
      if (!value.is_null() && !(value.is_string() && ChangeId::parse(value.get_ref<const std::string&>()))) return false;
    } else if (key == "drop_reason" || key == "feedback") {
      if (!string_or_null) return false;
    } else if (key == "title" || key == "body") {
      if (!value.is_string()) return false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

bool describe_change(const json& before, const json& after, JournalRecord& record) {
  json set = json::object();
  json unset = json::array();
  for (const auto& [key, value] : after.items()) {
    auto was = before.find(key);
    if (was == before.end() || *was != value) set[key] = value;
  }
  for (const auto& [key, value] : before.items()) {
    if (!after.contains(key)) unset.push_back(key);
  }
  if (set.empty() && unset.empty()) return false;
  record.fields["set"] = std::move(set);
  if (!unset.empty()) record.fields["unset"] = std::move(unset);
  return true;
}

Status apply_change(LineRecord& line, const JournalRecord& record, const std::string& where) {
  if (!record.fields.contains("set")) return {};
  if (auto item_id = record.fields.find("item"); item_id != record.fields.end()) {
    Item* item = item_id->is_string() ? line.find(item_id->get<std::string>()) : nullptr;
    if (item == nullptr) {
      return fail(bad_change(where, fmt::format("changes item {}, which line {} does not have", item_id->dump(),
                                                line.line.id)));
    }
    FAB_TRY_ASSIGN(*item, changed_item(*item, line.line.id, line.items.size(), record, where));
    return {};
  }
  FAB_TRY_ASSIGN(json j, changed(to_json(line.line), record, where));
  FAB_TRY_ASSIGN(Line edited, line_from_json(std::move(j), where));
  if (edited.id != line.line.id || edited.items != line.line.items) {
    return fail(bad_change(where, fmt::format("changes the id or the items of line {}", line.line.id)));
  }
  line.line = std::move(edited);
  return {};
}

bool apply_change(LineSummary& summary, const JournalRecord& record) {
  if (!record.fields.contains("set")) return true;
  if (record.fields.contains("item")) {
    // Checked on an item with only the id, line and state (from "from") known: what the record
    // changes must make a valid item of it, as it must of the real one.
    auto parts = split_item_id(record.str("item"));
    if (!parts || parts->line_id != summary.line.id || static_cast<std::size_t>(parts->n) > summary.total()) {
      return false;
    }
    const auto& set = record.fields.at("set");
    if (!set.is_object()) return false;
    const auto from = parse_item_state(record.str("from"));
    if (!sets_only_plain_fields(record)) {
      Item known;
      known.id = record.str("item");
      known.line = summary.line.id;
      if (from) known.state = *from;
      if (!changed_item(known, summary.line.id, summary.total(), record, "")) return false;
    }
    auto state = set.find("state");
    if (state == set.end()) return true;
    const auto to = parse_item_state(state->get<std::string>());
    if (!from || !to) return false;
    auto& was = summary.counts[static_cast<std::size_t>(*from)];
    if (was == 0) return false;
    --was;
    ++summary.counts[static_cast<std::size_t>(*to)];
    return true;
  }
  auto edited = changed(to_json(summary.line), record, "");
  if (!edited) return false;
  auto parsed = line_from_json(std::move(*edited), "");
  if (!parsed || parsed->id != summary.line.id || parsed->items != summary.line.items) return false;
  summary.line = std::move(*parsed);
  return true;
}

JournalRecord line_created_record(const LineRecord& record) {
  json items = json::array();
  for (const auto& item : record.items) items.push_back(to_json(item));
  JournalRecord created;
  created.time = record.line.created;
  created.kind = "line_created";
  created.fields = {{"line", record.line.id},
                    {"blueprint", record.line.blueprint},
                    {"blueprint_digest", record.line.blueprint_digest},
                    {"items", record.items.size()},
                    {"contents", {{"line", to_json(record.line)}, {"items", std::move(items)}}}};
  return created;
}

Result<LineRecord> line_as_created(const JournalRecord& created, const std::string& where) {
  auto contents = created.fields.find("contents");
  if (created.kind != "line_created" || contents == created.fields.end()) {
    return fail(Error(fmt::format("{}: does not start with a \"line_created\" record that holds the line", where))
                    .with_hint("a line stamped by an older fab cannot be rebuilt from its journal; restore its "
                               "line.json from a backup"));
  }
  const json line = contents->is_object() ? contents->value("line", json()) : json();
  const json items = contents->is_object() ? contents->value("items", json()) : json();
  if (!line.is_object() || !items.is_array()) {
    return fail(bad_change(where, "the \"line_created\" record's \"contents\" are not a line and its items"));
  }
  LineRecord record;
  FAB_TRY_ASSIGN(record.line, line_from_json(line, where + ": line"));
  record.items.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    FAB_TRY_ASSIGN(auto item, item_from_json(items[i], fmt::format("{}: item {}", where, i + 1)));
    record.items.push_back(std::move(item));
  }
  if (auto ok = validate_line_record(record); !ok) return fail(ok.error().context(where));
  return record;
}

}  // namespace fab
