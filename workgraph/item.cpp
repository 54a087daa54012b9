#include "workgraph/item.h"

#include <fmt/format.h>

#include "workgraph/crc32.h"
#include "workgraph/ids.h"

namespace fab {

namespace {

using nlohmann::json;

Error field_error(const std::string& where, const char* key, const char* what) {
  return Error(fmt::format("{}: \"{}\" {}", where, key, what));
}

// Takes `key` out of `obj` (so what stays behind is `extra`).
Result<std::string> take_string(json& obj, const char* key, const std::string& where,
                                bool nullable = false) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return fail(field_error(where, key, "is missing"));
  }
  std::string out;
  if (it->is_string()) {
    out = std::move(it->get_ref<std::string&>());
  } else if (!(nullable && it->is_null())) {
    return fail(field_error(where, key, nullable ? "must be a string or null" : "must be a string"));
  }
  obj.erase(it);
  return out;
}

Result<std::vector<std::string>> take_strings(json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return fail(field_error(where, key, "is missing"));
  }
  if (!it->is_array()) {
    return fail(field_error(where, key, "must be a list of ids"));
  }
  std::vector<std::string> out;
  out.reserve(it->size());
  for (auto& v : *it) {
    if (!v.is_string()) {
      return fail(field_error(where, key, "must be a list of ids"));
    }
    out.push_back(std::move(v.get_ref<std::string&>()));
  }
  obj.erase(it);
  return out;
}

json null_if_empty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// An optional string field: absent or null is "".
Result<std::string> take_optional_string(json& obj, const char* key, const std::string& where) {
  if (!obj.contains(key)) return std::string{};
  return take_string(obj, key, where, /*nullable=*/true);
}

}  // namespace

const Item* LineRecord::find(const std::string& item_id) const {
  // A stored line holds "<line>.1".."<line>.N" in order (validate_line_record), so the number is
  // the index; a record that breaks the rule is searched.
  if (auto parts = split_item_id(item_id); parts && parts->line_id == line.id && parts->n >= 1 &&
                                           static_cast<std::size_t>(parts->n) <= items.size()) {
    const Item& at = items[static_cast<std::size_t>(parts->n) - 1];
    if (at.id == item_id) return &at;
  }
  for (const auto& item : items) {
    if (item.id == item_id) {
      return &item;
    }
  }
  return nullptr;
}

Item* LineRecord::find(const std::string& item_id) {
  return const_cast<Item*>(static_cast<const LineRecord*>(this)->find(item_id));
}

std::string blueprint_digest(std::string_view yaml) { return fmt::format("crc32:{:08x}", crc32(yaml)); }

std::string short_change(const Item& item, std::size_t n) { return item.change ? item.change->short_id(n) : "-"; }

std::size_t LineSummary::total() const {
  std::size_t n = 0;
  for (auto c : counts) {
    n += c;
  }
  return n;
}

json to_public_json(const Item& item) {
  return {{"id", item.id},
          {"line", item.line},
          {"title", item.title},
          {"state", std::string(to_string(item.state))},
          {"change_id", item.change ? json(item.change->str()) : json(nullptr)},
          {"depends_on", item.depends_on},
          {"attempts", item.attempts},
          {"drop_reason", null_if_empty(item.drop_reason)}};
}

json to_public_json(const Line& line) {
  return {{"id", line.id},
          {"blueprint", line.blueprint},
          {"requirement", line.requirement},
          {"created", line.created},
          {"items", line.items},
          {"dropped", null_if_empty(line.dropped)}};
}

json to_json(const Item& item) {
  json j = item.extra.is_object() ? item.extra : json::object();
  j.update(to_public_json(item));
  j["body"] = item.body;
  if (!item.feedback.empty()) j["feedback"] = item.feedback;
  return j;
}

json to_json(const Line& line) {
  json j = line.extra.is_object() ? line.extra : json::object();
  j.update(to_public_json(line));
  j["trunk"] = line.trunk;
  j["blueprint_yaml"] = line.blueprint_yaml;
  j["blueprint_digest"] = line.blueprint_digest;
  j["blueprint_file"] = line.blueprint_file;
  if (line.dropped.empty()) j.erase("dropped");  // a live line's line.json has no such key
  return j;
}

Result<Item> item_from_json(json j, const std::string& where) {
  if (!j.is_object()) {
    return fail(where + ": must be a JSON object");
  }
  Item item;
  FAB_TRY_ASSIGN(item.id, take_string(j, "id", where));
  FAB_TRY_ASSIGN(item.line, take_string(j, "line", where));
  FAB_TRY_ASSIGN(item.title, take_string(j, "title", where));
  FAB_TRY_ASSIGN(auto state, take_string(j, "state", where));
  auto parsed = parse_item_state(state);
  if (!parsed) {
    return fail(Error(fmt::format("{}: unknown state \"{}\"", where, state))
                    .with_hint("states are queued, building, inspecting, rework, refining, merged, dropped"));
  }
  item.state = *parsed;
  FAB_TRY_ASSIGN(auto change, take_string(j, "change_id", where, /*nullable=*/true));
  if (!change.empty()) {
    auto id = ChangeId::parse(change);
    if (!id) return fail(field_error(where, "change_id", "is not a jj change ID (32 letters k-z)"));
    item.change = *id;
  }
  FAB_TRY_ASSIGN(item.depends_on, take_strings(j, "depends_on", where));
  auto attempts = j.find("attempts");
  if (attempts == j.end() || !attempts->is_number_integer() || attempts->get<long long>() < 0 ||
      attempts->get<long long>() > 1000000000) {
    return fail(field_error(where, "attempts", "must be a whole number >= 0"));
  }
  item.attempts = attempts->get<int>();
  j.erase(attempts);
  FAB_TRY_ASSIGN(item.drop_reason, take_string(j, "drop_reason", where, /*nullable=*/true));
  if (j.contains("body")) {
    FAB_TRY_ASSIGN(item.body, take_string(j, "body", where));
  }
  FAB_TRY_ASSIGN(item.feedback, take_optional_string(j, "feedback", where));
  item.extra = std::move(j);
  return item;
}

Result<Line> line_from_json(json j, const std::string& where) {
  if (!j.is_object()) {
    return fail(where + ": must be a JSON object");
  }
  Line line;
  FAB_TRY_ASSIGN(line.id, take_string(j, "id", where));
  FAB_TRY_ASSIGN(line.blueprint, take_string(j, "blueprint", where));
  FAB_TRY_ASSIGN(line.requirement, take_string(j, "requirement", where));
  FAB_TRY_ASSIGN(line.created, take_string(j, "created", where));
  FAB_TRY_ASSIGN(line.items, take_strings(j, "items", where));
  FAB_TRY_ASSIGN(line.trunk, take_optional_string(j, "trunk", where));
  FAB_TRY_ASSIGN(line.blueprint_yaml, take_optional_string(j, "blueprint_yaml", where));
  FAB_TRY_ASSIGN(line.blueprint_digest, take_optional_string(j, "blueprint_digest", where));
  FAB_TRY_ASSIGN(line.blueprint_file, take_optional_string(j, "blueprint_file", where));
  FAB_TRY_ASSIGN(line.dropped, take_optional_string(j, "dropped", where));
  line.extra = std::move(j);
  return line;
}

}  // namespace fab
