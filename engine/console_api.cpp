#include "engine/console_api.h"

#include <map>

#include <fmt/format.h>

#include "engine/item_record.h"
#include "engine/oplog.h"
#include "engine/run_control.h"
#include "workgraph/durable_file.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json item_row(const Item& item) {
  return {{"id", item.id},
          {"title", item.title},
          {"state", std::string(to_string(item.state))},
          {"attempts", item.attempts},
          {"drop_reason", item.drop_reason.empty() ? json(nullptr) : json(item.drop_reason)},
          {"change_id", item.change ? json(item.change->str()) : json(nullptr)},
          {"depends_on", item.depends_on}};
}

std::string tail_of(const std::string& text, std::size_t n) {
  if (text.size() <= n) return text;
  auto cut = text.size() - n;
  if (auto nl = text.find('\n', cut); nl != std::string::npos && nl + 1 < text.size()) cut = nl + 1;
  return fmt::format("[... the last {} of {} bytes]\n", text.size() - cut, text.size()) + text.substr(cut);
}

}  // namespace

Result<json> lines_json(const Factory& factory) {
  FAB_TRY_ASSIGN(auto summaries, factory.store().summaries());
  json out = json::array();
  for (const auto& s : summaries) {
    json counts = json::object();
    for (auto state : kAllItemStates) counts[std::string(to_string(state))] = s.count(state);
    auto j = to_public_json(s.line);
    j.erase("items");
    j["trunk"] = s.line.trunk;
    j["total"] = s.total();
    j["counts"] = counts;
    out.push_back(std::move(j));
  }
  return out;
}

Result<json> line_items_json(const Factory& factory, const std::string& line_id) {
  FAB_TRY_ASSIGN(auto rec, factory.store().load_line(line_id));
  json items = json::array();
  for (const auto& item : rec.items) items.push_back(item_row(item));
  return json{{"line", to_public_json(rec.line)}, {"items", items}};
}

Result<json> item_json(Factory& factory, const std::string& line_id, const std::string& item_id, std::size_t tail_bytes) {
  FAB_TRY_ASSIGN(auto line, factory.store().load_line(line_id));
  if (line.find(item_id) == nullptr) {
    return fail(fmt::format("line {} has no item {}", line_id, item_id), fmt::format("/api/lines/{}/items lists them", line_id));
  }
  FAB_TRY_ASSIGN(auto rec, read_item_record(factory, item_id));
  json j = item_row(rec.item);
  j["line"] = rec.item.line;
  j["feedback"] = rec.item.feedback;
  const auto line_dir = factory.store().line_dir(line_id);
  j["attempt_records"] = json::array();
  for (const auto& a : rec.attempts) j["attempt_records"].push_back(to_json(a, line_dir));
  j["history"] = json::array();
  for (const auto& r : rec.history) {
    auto row = describe_record(r);
    j["history"].push_back({{"time", row.time}, {"event", row.event}, {"detail", row.detail}});
  }
  j["diff"] = nullptr;
  if (rec.item.change) {
    auto diffs = factory.repo().git_diffs({*rec.item.change});
    if (diffs) {
      if (auto it = diffs->find(rec.item.change->str()); it != diffs->end()) j["diff"] = it->second;
    } else {
      j["diff_error"] = diffs.error().message;
    }
  }
  j["transcript"] = nullptr;
  if (!rec.attempts.empty()) {
    const auto& last = rec.attempts.back();
    const auto file = round_dir(rec, last.round) / fmt::format("attempt-{}.agent.txt", last.number);
    if (auto text = read_file_text(file)) j["transcript"] = tail_of(*text, tail_bytes);
  }
  // Agent output and diffs need not be UTF-8: make the whole object safe to dump.
  return json::parse(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

Result<json> oplog_json(const Factory& factory, std::size_t limit) {
  FAB_TRY_ASSIGN(auto entries, annotated_oplog(factory, limit));
  json out = json::array();
  for (const auto& e : entries) out.push_back(to_json(e));
  return out;
}

Result<json> throughput_json(Factory& factory, std::int64_t now_ms) {
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  std::map<std::string, int> per_minute;
  std::map<std::string, std::int64_t> in_state;
  for (auto state : kAllItemStates) in_state[std::string(to_string(state))] = 0;
  int merged = 0, dropped = 0;
  for (const auto& line : lines) {
    FAB_TRY_ASSIGN(auto journal, factory.store().journal(line.id));
    struct Where {
      std::string state;
      std::int64_t since = 0;
    };
    std::map<std::string, Where> where;  // item -> its state and since when
    for (const auto& r : journal) {
      if (r.kind != "transition") continue;
      auto t = epoch_ms(r.time);
      if (!t) continue;
      const std::string item = r.str("item"), from = r.str("from"), to = r.str("to");
      if (auto it = where.find(item); it != where.end() && in_state.count(it->second.state)) {
        in_state[it->second.state] += std::max<std::int64_t>(0, *t - it->second.since);
      }
      where[item] = {to, *t};
      if (to == "merged") {
        ++merged;
        ++per_minute[r.time.substr(0, 16)];
      }
      if (to == "dropped") ++dropped;
    }
    for (const auto& [item, w] : where) {
      if (w.state != "merged" && w.state != "dropped" && in_state.count(w.state)) {
        in_state[w.state] += std::max<std::int64_t>(0, now_ms - w.since);
      }
    }
  }
  json minutes = json::array();
  for (const auto& [minute, n] : per_minute) minutes.push_back({{"minute", minute}, {"merged", n}});
  return json{{"merged_per_minute", minutes}, {"ms_in_state", in_state}, {"merged", merged}, {"dropped", dropped}};
}

std::string factory_mark(const Factory& factory) {
  std::string mark;
  std::error_code ec;
  const fs::path lines = factory.factory_dir() / "lines";
  for (fs::directory_iterator it(lines, ec), end; !ec && it != end; it.increment(ec)) {
    for (const char* name : {"line.json", "journal.jsonl"}) {
      const auto file = it->path() / name;
      std::error_code e;
      const auto size = fs::file_size(file, e);
      const auto time = fs::last_write_time(file, e);
      mark += fmt::format("{}/{}:{}:{};", it->path().filename().string(), name, e ? 0 : size,
                          e ? 0 : time.time_since_epoch().count());
    }
  }
  mark += fs::exists(run_lock_file(factory), ec) ? "run" : "idle";
  return fmt::format("{:08x}", static_cast<std::uint32_t>(std::hash<std::string>{}(mark)));
}

}  // namespace fab::engine
