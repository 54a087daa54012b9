#include "workgraph/line_file.h"

#include <charconv>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "workgraph/ids.h"

namespace fab {

namespace {

using nlohmann::json;

// "file:line:col" for a byte offset (1-based line and column).
std::string position(std::string_view text, std::size_t byte, const std::filesystem::path& file) {
  std::size_t line = 1;
  std::size_t col = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("{}:{}:{}", file.string(), line, col);
}

const char* kCorruptHint =
    "the file was edited by hand or damaged; fab rebuilds it from the line's journal (`fab recover` does, "
    "and says so)";
const char* kRulesHint =
    "a line's items are <line>.1, <line>.2, ... in order, each depending only on items that exist";

Result<json> parse_json(std::string_view text, const std::filesystem::path& file) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return fail(Error(fmt::format("{}: invalid JSON", position(text, at, file)))
                    .caused_by(e.what())
                    .with_hint(kCorruptHint));
  }
}

Result<json> take_member(json& doc, const char* key, bool want_array, const std::filesystem::path& file) {
  auto it = doc.find(key);
  if (it == doc.end() || (want_array ? !it->is_array() : !it->is_object())) {
    return fail(Error(fmt::format("{}: \"{}\" must be {}", file.string(), key,
                                  want_array ? "a list" : "an object"))
                    .with_hint(kCorruptHint));
  }
  return std::move(*it);
}

Status check_format(const json& doc, const std::filesystem::path& file) {
  if (!doc.is_object()) {
    return fail(Error(file.string() + ": must be a JSON object").with_hint(kCorruptHint));
  }
  auto it = doc.find("format");
  if (it == doc.end() || !it->is_number_integer()) {
    return fail(Error(file.string() + ": \"format\" is missing").with_hint(kCorruptHint));
  }
  if (it->get<long long>() != kLineFileFormat && it->get<long long>() != 1) {
    return fail(Error(fmt::format("{}: format {} is not known to this fab (it writes format {})",
                                  file.string(), it->dump(), kLineFileFormat))
                    .with_hint("the factory was written by a newer fab; use that version"));
  }
  return {};
}

using Counts = std::array<std::size_t, kItemStateCount>;

Counts count_states(const std::vector<Item>& items) {
  Counts counts{};
  for (const auto& item : items) {
    ++counts[static_cast<std::size_t>(item.state)];
  }
  return counts;
}

// {"queued":N,...} with every state present and nothing else.
std::optional<Counts> counts_from_json(const json& j) {
  if (!j.is_object() || j.size() != kItemStateCount) {
    return std::nullopt;
  }
  Counts counts{};
  for (auto s : kAllItemStates) {
    auto it = j.find(std::string(to_string(s)));
    if (it == j.end() || !it->is_number_unsigned()) {
      return std::nullopt;
    }
    counts[static_cast<std::size_t>(s)] = it->get<std::size_t>();
  }
  return counts;
}

// {"bytes":B,"records":R}
std::optional<JournalMark> mark_from_json(const json& j) {
  if (!j.is_object() || j.size() != 2) {
    return std::nullopt;
  }
  auto bytes = j.find("bytes");
  auto records = j.find("records");
  if (bytes == j.end() || records == j.end() || !bytes->is_number_unsigned() || !records->is_number_unsigned()) {
    return std::nullopt;
  }
  return JournalMark{bytes->get<std::uint64_t>(), records->get<std::uint64_t>()};
}

// The summary from the first text line (`{"format":2,"counts":{...},"journal":{...},"line":{...},`),
// or nullopt when the file does not start with such a header (then the caller parses the whole file).
std::optional<LineFileSummary> summary_from_header(std::string_view text, const std::filesystem::path& file) {
  auto nl = text.find('\n');
  if (nl == std::string_view::npos || nl == 0 || text[nl - 1] != ',') {
    return std::nullopt;
  }
  std::string header(text.substr(0, nl - 1));
  header += '}';
  json doc = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !check_format(doc, file)) {
    return std::nullopt;
  }
  const bool format1 = doc["format"] == 1;
  if (doc.size() != (format1 ? 3u : 4u)) {
    return std::nullopt;
  }
  std::optional<JournalMark> mark;
  if (!format1) {
    mark = mark_from_json(doc["journal"]);
    if (!mark) return std::nullopt;
  }
  auto counts = counts_from_json(doc["counts"]);
  auto line_it = doc.find("line");
  if (!counts || line_it == doc.end()) {
    return std::nullopt;
  }
  auto line = line_from_json(std::move(*line_it), file.string());
  if (!line || line->items.size() != LineSummary{Line{}, *counts}.total()) {
    return std::nullopt;
  }
  return LineFileSummary{LineSummary{std::move(*line), *counts}, mark};
}

}  // namespace

std::string encode_line_file(const LineRecord& record, const JournalMark& journal) {
  auto per_state = count_states(record.items);
  json counts = json::object();
  for (auto s : kAllItemStates) {
    counts[std::string(to_string(s))] = per_state[static_cast<std::size_t>(s)];
  }
  // A compact dump never contains a raw newline, so the header stays on the first text line.
  std::string out = fmt::format("{{\"format\":{},\"counts\":{},\"journal\":{{\"bytes\":{},\"records\":{}}},\"line\":",
                                kLineFileFormat, counts.dump(), journal.bytes, journal.records);
  out += to_json(record.line).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += ",\n\"items\":[";
  bool first = true;
  for (const auto& item : record.items) {
    out += first ? "\n" : ",\n";
    first = false;
    out += to_json(item).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out += "\n]}\n";
  return out;
}

namespace {

Error rule_broken(const std::string& line_id, const std::string& what) {
  return Error(fmt::format("line {}: {}", line_id, what), ErrorKind::user).with_hint(kRulesHint);
}

}  // namespace

Status validate_item(const std::string& id, std::size_t item_count, const Item& item) {
  if (item.line != id) {
    return fail(rule_broken(id, fmt::format("item {} says it belongs to line \"{}\"", item.id, item.line)));
  }
  for (const auto& dep : item.depends_on) {
    auto parts = split_item_id(dep);
    if (!parts) {
      return fail(rule_broken(id, fmt::format("item {} depends on \"{}\", which is not an item id", item.id, dep)));
    }
    if (dep == item.id) {
      return fail(rule_broken(id, fmt::format("item {} depends on itself", item.id)));
    }
    if (parts->line_id == id && (parts->n < 1 || static_cast<std::size_t>(parts->n) > item_count)) {
      return fail(rule_broken(id, fmt::format("item {} depends on {}, which does not exist", item.id, dep)));
    }
  }
  return {};
}

Status validate_line_record(const LineRecord& record) {
  const auto& id = record.line.id;
  if (!is_line_id(id)) {
    return fail(rule_broken(id, "the id is not 6 characters [a-z0-9] starting with a letter"));
  }
  if (record.line.items.size() != record.items.size()) {
    return fail(rule_broken(id, fmt::format("lists {} item ids but holds {} items", record.line.items.size(),
                                                record.items.size())));
  }
  for (std::size_t i = 0; i < record.items.size(); ++i) {
    const auto& item = record.items[i];
    auto expected = make_item_id(id, static_cast<int>(i + 1));
    if (item.id != expected) {
      return fail(rule_broken(id, fmt::format("item {} has id \"{}\", expected \"{}\"", i + 1, item.id, expected)));
    }
    if (record.line.items[i] != item.id) {
      return fail(rule_broken(id, fmt::format("item list entry {} is \"{}\", expected \"{}\"", i + 1,
                                                  record.line.items[i], item.id)));
    }
  }
  for (const auto& item : record.items) {
    FAB_TRY(validate_item(id, record.items.size(), item));
  }
  return {};
}

Result<LineFile> decode_line_file(std::string_view text, const std::filesystem::path& file) {
  FAB_TRY_ASSIGN(json doc, parse_json(text, file));
  FAB_TRY(check_format(doc, file));
  std::optional<json> counts;
  if (auto it = doc.find("counts"); it != doc.end()) {
    counts = std::move(*it);
  }
  LineFile out;
  if (doc["format"] != 1) {
    out.journal = mark_from_json(doc.value("journal", json()));
    if (!out.journal) {
      return fail(Error(fmt::format("{}: \"journal\" must be {{\"bytes\": N, \"records\": N}}", file.string()))
                      .with_hint(kCorruptHint));
    }
  }
  FAB_TRY_ASSIGN(json line, take_member(doc, "line", false, file));
  FAB_TRY_ASSIGN(json items, take_member(doc, "items", true, file));
  LineRecord& record = out.record;
  auto line_parsed = line_from_json(std::move(line), file.string() + ": line");
  if (!line_parsed) {
    return tl::unexpected(std::move(line_parsed.error()).with_hint(kCorruptHint));
  }
  record.line = std::move(*line_parsed);
  record.items.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto item = item_from_json(std::move(items[i]), fmt::format("{}: item {}", file.string(), i + 1));
    if (!item) {
      return tl::unexpected(std::move(item.error()).with_hint(kCorruptHint));
    }
    record.items.push_back(std::move(*item));
  }
  if (auto ok = validate_line_record(record); !ok) {
    return tl::unexpected(ok.error().context(file.string() + ": inconsistent line file").with_hint(kCorruptHint));
  }
  if (counts) {
    auto expected = count_states(record.items);
    auto stored = counts_from_json(*counts);
    if (!stored || *stored != expected) {
      return fail(Error(fmt::format("{}: \"counts\" do not match the items", file.string())).with_hint(kCorruptHint));
    }
  }
  return out;
}

bool is_newer_line_file(std::string_view text) {
  constexpr std::string_view kStart = "{\"format\":";
  if (!text.starts_with(kStart)) return false;
  int format = 0;
  auto digits = text.substr(kStart.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), format);
  return ec == std::errc() && format > kLineFileFormat;
}

Result<LineFileSummary> summarize_line_file(std::string_view text, const std::filesystem::path& file) {
  if (auto summary = summary_from_header(text, file)) {
    return std::move(*summary);
  }
  FAB_TRY_ASSIGN(LineFile decoded, decode_line_file(text, file));
  LineFileSummary out;
  out.summary.counts = count_states(decoded.record.items);
  out.summary.line = std::move(decoded.record.line);
  out.journal = decoded.journal;
  return out;
}

}  // namespace fab
