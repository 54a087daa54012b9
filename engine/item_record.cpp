#include "engine/item_record.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "engine/item_files.h"
#include "workgraph/durable_file.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string record_first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::optional<int> int_field(const JournalRecord& r, const char* key) {
  auto it = r.fields.find(key);
  if (it == r.fields.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int>();
}

std::optional<Usage> usage_of(const json& j) {
  if (!j.is_object()) return std::nullopt;
  Usage u;
  if (auto it = j.find("input_tokens"); it != j.end() && it->is_number_integer()) u.input_tokens = it->get<std::int64_t>();
  if (auto it = j.find("output_tokens"); it != j.end() && it->is_number_integer()) u.output_tokens = it->get<std::int64_t>();
  if (auto it = j.find("cost_usd"); it != j.end() && it->is_number()) u.cost_usd = it->get<double>();
  if (u.empty()) return std::nullopt;
  return u;
}

std::vector<std::string> strings_of(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

StepRecord step_from(const JournalRecord& r) {
  StepRecord s;
  s.step = r.str("step");
  s.plugin = r.str("plugin");
  s.path = r.str("path");
  s.started = r.str("started");
  s.time = r.time;
  if (auto it = r.fields.find("ms"); it != r.fields.end() && it->is_number()) s.ms = it->get<std::int64_t>();
  s.ok = r.fields.value("ok", json(true)).is_boolean() ? r.fields.value("ok", true) : true;
  s.summary = record_first_line(r.str("summary"));
  if (auto it = r.fields.find("usage"); it != r.fields.end()) s.usage = usage_of(*it);
  if (auto it = r.fields.find("retry"); it != r.fields.end() && it->is_boolean()) s.permanent = !it->get<bool>();
  if (auto it = r.fields.find("ops"); it != r.fields.end()) s.ops = strings_of(*it);
  s.log = r.str("log");
  return s;
}

void add_op(AttemptRecord& a, const std::string& op) {
  if (!op.empty() && std::find(a.ops.begin(), a.ops.end(), op) == a.ops.end()) a.ops.push_back(op);
}

// The summary line the agent's file starts with ("summary: ..."), for attempts the journal has no
// agent step record for.
std::string agent_summary_from_file(const fs::path& file) {
  auto text = read_file_text(file);
  constexpr std::string_view kPrefix = "summary: ";
  if (!text || !text->starts_with(kPrefix)) return {};
  return record_first_line(text->substr(kPrefix.size()));
}

// Milliseconds since the epoch of a timestamp as fab writes them ("2025-03-01T12:34:56.789Z").
std::optional<std::int64_t> epoch_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
}

}  // namespace

std::optional<std::int64_t> AttemptRecord::wall_ms() const {
  auto from = epoch_ms(started);
  auto to = epoch_ms(ended);
  if (!from || !to || *to < *from) return std::nullopt;
  return *to - *from;
}

void Usage::add(const Usage& o) {
  auto sum = [](auto& mine, const auto& theirs) {
    if (theirs) mine = mine.value_or(0) + *theirs;
  };
  sum(input_tokens, o.input_tokens);
  sum(output_tokens, o.output_tokens);
  sum(cost_usd, o.cost_usd);
}

Usage AttemptRecord::usage() const {
  Usage total;
  for (const auto& s : steps) {
    if (s.usage) total.add(*s.usage);
  }
  return total;
}

fs::path round_dir(const ItemRecord& record, int round) {
  return round >= record.round ? record.dir : record.dir / fmt::format("round-{}", round);
}

Result<ItemRecord> read_item_record(Factory& factory, const std::string& query) {
  ItemRecord rec;
  FAB_TRY_ASSIGN(rec.item, factory.store().find_item(query));
  FAB_TRY_ASSIGN(auto journal, factory.store().journal(rec.item.line));
  rec.dir = item_dir(factory, rec.item);
  for (auto& r : journal) {
    if (r.str("item") == rec.item.id) rec.history.push_back(std::move(r));
  }

  int& round = rec.round;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t current = kNone;  // the attempt under way
  auto attempt = [&](int n) -> std::size_t {
    for (std::size_t i = 0; i < rec.attempts.size(); ++i) {
      if (rec.attempts[i].round == round && rec.attempts[i].number == n) return i;
    }
    rec.attempts.push_back(AttemptRecord{.round = round, .number = n});
    return rec.attempts.size() - 1;
  };
  std::vector<std::pair<std::size_t, StepRecord>> resolved;  // from "resolved" records, kept unless a step says it
  std::vector<bool> agent_failed;  // by attempt: it went from building straight to rework or dropped
  for (const auto& r : rec.history) {
    if (r.kind == "transition") {
      if (r.str("steer") == "retry") {
        ++round;
        current = kNone;
        continue;
      }
      const std::string to = r.str("to");
      if (to == "building") {
        const int n = int_field(r, "attempt").value_or(int_field(r, "attempts").value_or(
            current != kNone ? rec.attempts[current].number + 1 : 1));
        current = attempt(n);
        rec.attempts[current].started = r.time;
      }
      if (current == kNone) continue;
      AttemptRecord& a = rec.attempts[current];
      a.ended = r.time;
      a.outcome = to;
      a.reason = r.str("reason");
      if (auto f = r.str("feedback"); !f.empty()) a.feedback = f;
      add_op(a, r.str("op"));
      if (r.str("from") == "building" && (to == "rework" || to == "dropped")) {
        agent_failed.resize(rec.attempts.size());
        agent_failed[current] = true;
      }
      if (to == "queued" || to == "merged" || to == "dropped") current = kNone;
    } else if (r.kind == "step") {
      const std::size_t i = attempt(int_field(r, "attempt").value_or(current != kNone ? rec.attempts[current].number : 1));
      rec.attempts[i].steps.push_back(step_from(r));
      for (const auto& op : rec.attempts[i].steps.back().ops) add_op(rec.attempts[i], op);
    } else if (r.kind == "resolved" && current != kNone) {
      StepRecord s{.step = "refine", .plugin = r.str("resolver"), .path = r.str("path"), .time = r.time};
      s.summary = "settled the conflict in " + s.path;
      resolved.emplace_back(current, std::move(s));
    }
  }
  for (auto& [i, s] : resolved) {
    auto& steps = rec.attempts[i].steps;
    const bool said = std::any_of(steps.begin(), steps.end(), [&](const StepRecord& x) {
      return x.step == "refine" && x.path == s.path && x.plugin == s.plugin;
    });
    if (!said) steps.push_back(std::move(s));
  }
  agent_failed.resize(rec.attempts.size());
  for (std::size_t i = 0; i < rec.attempts.size(); ++i) {
    auto& a = rec.attempts[i];
    const fs::path dir = round_dir(rec, a.round);
    std::error_code ec;
    if (auto md = dir / fmt::format("attempt-{}.md", a.number); fs::exists(md, ec)) a.files.push_back(md);
    for (const char* step : kLogSteps) {
      if (auto f = dir / fmt::format("attempt-{}.{}.txt", a.number, step); fs::exists(f, ec)) a.files.push_back(f);
    }
    const bool has_agent = std::any_of(a.steps.begin(), a.steps.end(), [](const StepRecord& s) { return s.step == "agent"; });
    const auto agent_file = dir / fmt::format("attempt-{}.agent.txt", a.number);
    if (!has_agent && fs::exists(agent_file, ec)) {
      StepRecord s{.step = "agent", .ok = !agent_failed[i]};
      s.summary = agent_summary_from_file(agent_file);
      s.log = fs::relative(agent_file, factory.store().line_dir(rec.item.line), ec).string();
      a.steps.insert(a.steps.begin(), std::move(s));
    }
    std::stable_sort(a.steps.begin(), a.steps.end(), [](const StepRecord& x, const StepRecord& y) {
      auto rank = [](const std::string& step) {
        return std::find_if(std::begin(kStepOrder), std::end(kStepOrder), [&](const char* s) { return step == s; }) -
               std::begin(kStepOrder);
      };
      return rank(x.step) < rank(y.step);
    });
  }
  return rec;
}

HistoryRow describe_record(const JournalRecord& r) {
  HistoryRow row{r.time, r.kind, ""};
  if (r.kind == "transition") {
    row.event = r.str("steer") == "retry" ? "retry: " : "";
    row.event += r.str("from") + " -> " + r.str("to");
    row.detail = record_first_line(r.str("reason"));
    if (auto f = record_first_line(r.str("feedback")); row.detail.empty() && !f.empty()) row.detail = f;
  } else if (r.kind == "resolved") {
    row.detail = fmt::format("{} by {}", r.str("path"), r.str("resolver"));
  } else if (r.kind == "step") {
    row.event = "step " + r.str("step");
    const auto s = step_from(r);
    row.detail = fmt::format("{}{}{}{}", s.plugin.empty() ? "" : s.plugin + " ", s.ok ? "ok" : "failed",
                             s.ms ? fmt::format(" in {} ms", *s.ms) : "", s.summary.empty() ? "" : ": " + s.summary);
  } else {
    for (const char* key : {"what", "reason", "message", "summary"}) {
      if (row.detail.empty()) row.detail = record_first_line(r.str(key));
    }
  }
  if (row.event.empty()) row.event = "(record without a kind)";
  if (row.detail.empty()) {
    json rest = r.fields;
    rest.erase("item");
    row.detail = rest.empty() ? "-" : rest.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return row;
}

json to_json(const AttemptRecord& a, const fs::path& line_dir) {
  auto usage_json = [](const Usage& u) {
    json j = json::object();
    if (u.input_tokens) j["input_tokens"] = *u.input_tokens;
    if (u.output_tokens) j["output_tokens"] = *u.output_tokens;
    if (u.cost_usd) j["cost_usd"] = *u.cost_usd;
    return j;
  };
  json steps = json::array();
  for (const auto& s : a.steps) {
    json j = {{"step", s.step}, {"plugin", s.plugin}, {"ok", s.ok}, {"summary", s.summary}, {"time", s.time},
              {"ms", s.ms ? json(*s.ms) : json(nullptr)}, {"ops", s.ops}, {"log", s.log}};
    if (!s.path.empty()) j["path"] = s.path;
    if (s.usage) j["usage"] = usage_json(*s.usage);
    if (s.permanent) j["retry"] = false;
    steps.push_back(std::move(j));
  }
  json files = json::array();
  std::error_code ec;
  for (const auto& f : a.files) files.push_back(fs::relative(f, line_dir, ec).string());
  return {{"round", a.round},       {"attempt", a.number},   {"started", a.started}, {"ended", a.ended},
          {"outcome", a.outcome},   {"reason", a.reason},    {"feedback", a.feedback}, {"steps", steps},
          {"wall_ms", a.wall_ms() ? json(*a.wall_ms()) : json(nullptr)},
          {"ops", a.ops},           {"files", files},        {"usage", usage_json(a.usage())}};
}

}  // namespace fab::engine
