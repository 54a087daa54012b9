#include "engine/trace.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "substrate/http.h"

namespace fab::engine {
namespace {

using nlohmann::json;

// FNV-1a, 64 bits: small, stable across builds and machines (std::hash is neither).
std::uint64_t fnv1a(const std::string& s, std::uint64_t seed = 0xcbf29ce484222325ull) {
  std::uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// splitmix64's finalizer: keys that differ in one character get ids that differ everywhere.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string hex16(std::uint64_t v) {
  v = mix(v);
  if (v == 0) v = 1;  // an all-zero id is invalid in OTLP
  return fmt::format("{:016x}", v);
}

std::string trace_id(const Item& item) {
  const std::string key = item.line + "/" + item.id;
  return hex16(fnv1a(key)) + hex16(fnv1a(key, 0x84222325cbf29ce4ull));
}
std::string span_id(const std::string& key) { return hex16(fnv1a(key)); }

json str_attr(const std::string& key, const std::string& value) {
  return {{"key", key}, {"value", {{"stringValue", value}}}};
}
// OTLP/JSON writes 64-bit integers as decimal strings (the protobuf JSON mapping).
json int_attr(const std::string& key, std::int64_t value) {
  return {{"key", key}, {"value", {{"intValue", std::to_string(value)}}}};
}
json bool_attr(const std::string& key, bool value) { return {{"key", key}, {"value", {{"boolValue", value}}}}; }

// `prefix` "gen_ai.usage." on the attempt's span only (a backend that sums GenAI usage over spans
// must not count a call twice), "fab.usage." on its steps' spans.
void add_usage(json& attrs, const std::optional<Usage>& usage, const std::string& prefix) {
  if (!usage) return;
  if (usage->input_tokens) attrs.push_back(int_attr(prefix + "input_tokens", *usage->input_tokens));
  if (usage->output_tokens) attrs.push_back(int_attr(prefix + "output_tokens", *usage->output_tokens));
  if (usage->cost_usd) attrs.push_back({{"key", "fab.usage.cost_usd"}, {"value", {{"doubleValue", *usage->cost_usd}}}});
}

std::string nanos(std::int64_t ms) { return std::to_string(ms) + "000000"; }

struct Interval {
  std::int64_t start = 0;
  std::int64_t end = 0;
};

// A step's wall time: from its start (or its end less its duration) to its end; nullopt when the
// record has no time at all.
std::optional<Interval> step_interval(const StepRecord& s) {
  auto end = epoch_ms(s.time);
  auto start = epoch_ms(s.started);
  if (start && s.ms) return Interval{*start, *start + *s.ms};
  if (start && end) return Interval{*start, std::max(*start, *end)};
  if (!end) return std::nullopt;
  return Interval{s.ms ? *end - *s.ms : *end, *end};
}

// A plugin as a blueprint names it: "shell", or for a path, "fab-plugin-<name>.so" -> "<name>".
std::string plugin_name(const std::string& plugin) {
  std::string name = std::filesystem::path(plugin).filename().string();
  if (name.starts_with("fab-plugin-")) name.erase(0, std::string_view("fab-plugin-").size());
  if (name.ends_with(".so")) name.resize(name.size() - 3);
  return name.empty() ? plugin : name;
}

std::string agent_name(const AttemptRecord& a) {
  for (const auto& s : a.steps) {
    if (s.step == "agent" && !s.plugin.empty()) return plugin_name(s.plugin);
  }
  return "agent";
}

void add_attempt_spans(const ItemRecord& rec, const AttemptRecord& a, json& spans) {
  const Item& item = rec.item;
  const std::string trace = trace_id(item);
  const std::string key = fmt::format("{}/{}/{}/{}", item.line, item.id, a.round, a.number);
  const std::string parent = span_id(key);
  const std::string agent = agent_name(a);

  std::optional<Interval> whole;
  if (auto s = epoch_ms(a.started)) whole = Interval{*s, epoch_ms(a.ended).value_or(*s)};
  auto widen = [&](const Interval& i) {
    if (!whole) whole = i;
    whole->start = std::min(whole->start, i.start);
    whole->end = std::max(whole->end, i.end);
  };
  std::vector<std::optional<Interval>> times;
  for (const auto& s : a.steps) {
    times.push_back(step_interval(s));
    if (times.back()) widen(*times.back());
  }
  if (!whole) return;  // an attempt with no time at all (nothing but a file): nothing to place

  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    const StepRecord& s = a.steps[i];
    const Interval t = times[i].value_or(*whole);
    json attrs = json::array({str_attr("fab.step", s.step), str_attr("fab.line", item.line), str_attr("fab.item", item.id),
                              bool_attr("fab.ok", s.ok)});
    const std::string plugin = plugin_name(s.plugin);
    if (!s.plugin.empty()) attrs.push_back(str_attr("fab.plugin", s.plugin));
    if (!s.path.empty()) attrs.push_back(str_attr("fab.path", s.path));
    if (!s.summary.empty()) attrs.push_back(str_attr("fab.summary", s.summary));
    if (!s.ops.empty()) attrs.push_back(str_attr("fab.jj_operation", s.ops.back()));
    if (s.permanent) attrs.push_back(bool_attr("fab.permanent", true));
    add_usage(attrs, s.usage, "fab.usage.");
    json span = {{"traceId", trace},
                 {"spanId", span_id(fmt::format("{}/{}", key, i))},
                 {"parentSpanId", parent},
                 {"name", s.plugin.empty() ? s.step : s.step + " " + plugin},
                 {"kind", 1},  // SPAN_KIND_INTERNAL
                 {"startTimeUnixNano", nanos(t.start)},
                 {"endTimeUnixNano", nanos(t.end)},
                 {"attributes", attrs}};
    span["status"] = s.ok ? json{{"code", 1}} : json{{"code", 2}, {"message", s.summary}};
    spans.push_back(std::move(span));
  }

  json attrs = json::array({str_attr("gen_ai.operation.name", "invoke_agent"), str_attr("gen_ai.agent.name", agent),
                            str_attr("fab.line", item.line), str_attr("fab.item", item.id),
                            int_attr("fab.round", a.round), int_attr("fab.attempt", a.number)});
  if (item.change) attrs.push_back(str_attr("fab.change_id", item.change->str()));
  if (!a.outcome.empty()) attrs.push_back(str_attr("fab.outcome", a.outcome));
  if (!a.ops.empty()) attrs.push_back(str_attr("fab.jj_operation", a.ops.back()));
  const Usage usage = a.usage();
  if (!usage.empty()) add_usage(attrs, usage, "gen_ai.usage.");
  json span = {{"traceId", trace},
               {"spanId", parent},
               {"name", "invoke_agent " + agent},
               {"kind", 1},
               {"startTimeUnixNano", nanos(whole->start)},
               {"endTimeUnixNano", nanos(whole->end)},
               {"attributes", attrs}};
  if (a.outcome == "merged") {
    span["status"] = {{"code", 1}};
  } else if (!a.outcome.empty() && a.outcome != "building" && a.outcome != "inspecting" && a.outcome != "refining") {
    span["status"] = {{"code", 2}, {"message", a.reason.empty() ? a.outcome : a.outcome + ": " + a.reason}};
  }
  spans.push_back(std::move(span));
}

}  // namespace

Result<std::vector<ItemRecord>> trace_records(Factory& factory, const std::string& line_or_item) {
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  std::vector<ItemRecord> records;
  for (const auto& line : lines) {
    if (line.id != line_or_item) continue;
    FAB_TRY_ASSIGN(auto rec, factory.store().load_line(line.id));
    FAB_TRY_ASSIGN(auto journal, factory.store().journal(line.id));  // once for all its items
    for (auto& item : rec.items) {
      FAB_TRY_ASSIGN(auto r, read_item_record(factory, std::move(item), journal));
      records.push_back(std::move(r));
    }
    return records;
  }
  auto rec = read_item_record(factory, line_or_item);
  if (!rec) {
    return fail(Error(fmt::format("no line or item {}", line_or_item)).caused_by(rec.error().message),
                "`fab status` lists the lines, `fab status LINE` its items");
  }
  records.push_back(std::move(*rec));
  return records;
}

json otlp_trace(const std::vector<ItemRecord>& records) {
  json spans = json::array();
  for (const auto& rec : records) {
    for (const auto& a : rec.attempts) add_attempt_spans(rec, a, spans);
  }
  json resource = {{"attributes", json::array({str_attr("service.name", "fab")})}};
  json scope = {{"scope", {{"name", "fab"}, {"version", "0.1.0"}}}, {"spans", spans}};
  return {{"resourceSpans", json::array({{{"resource", resource}, {"scopeSpans", json::array({scope})}}})}};
}

std::string otlp_traces_url(const std::string& endpoint) {
  std::string base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/v1/traces";
}

Status post_otlp(const std::string& url, const std::string& body, long timeout_ms) {
  const std::string hint =
      "check OTEL_EXPORTER_OTLP_ENDPOINT (the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318), "
      "or write the spans to a file with -o FILE";
  FAB_TRY_ASSIGN(auto reply, http::post_json(url, body, {}, timeout_ms));
  if (!reply.answered()) {
    return fail(Error(fmt::format("could not send the spans to {}", url)).caused_by(reply.transport_error), hint);
  }
  if (reply.status < 200 || reply.status >= 300) {
    Error e(fmt::format("the collector at {} answered HTTP {}", url, reply.status));
    if (!reply.body.empty()) e.caused_by(reply.body.substr(0, 2000));
    return fail(std::move(e), hint);
  }
  return {};
}

}  // namespace fab::engine
