// `fab item show|log|retry`: one work item's record (engine/item_record.h), the files of an attempt,
// and putting a dropped item back in the queue (engine/steer.h).
#include <memory>

#include <fmt/format.h>

#include "cli/table.h"
#include "cli/verbs/verbs.h"
#include "engine/item_record.h"
#include "engine/steer.h"
#include "workgraph/durable_file.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

namespace fs = std::filesystem;
using engine::AttemptRecord;
using engine::ItemRecord;

constexpr std::size_t kFeedbackLines = 20;  // shown of an attempt's feedback; the rest via `fab item log`

Style state_style(const std::string& state) {
  if (state == "merged") return Style::green;
  if (state == "dropped") return Style::red;
  if (state == "rework") return Style::yellow;
  return Style::cyan;
}

std::string duration(std::int64_t ms) {
  if (ms < 1000) return fmt::format("{} ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{}m{:02}s", ms / 60'000, (ms / 1000) % 60);
}

std::string usage_text(const engine::Usage& u) {
  std::vector<std::string> parts;
  if (u.input_tokens || u.output_tokens) {
    parts.push_back(fmt::format("{} in / {} out tokens", u.input_tokens.value_or(0), u.output_tokens.value_or(0)));
  }
  if (u.cost_usd) parts.push_back(fmt::format("${:.4f}", *u.cost_usd));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// A path as the user sees it from the factory's root.
std::string shown(const Factory& factory, const fs::path& p) {
  std::error_code ec;
  auto rel = fs::relative(p, factory.root(), ec);
  return ec || rel.empty() ? p.string() : rel.string();
}

std::string attempt_text(const Factory& factory, const ItemRecord& rec, const AttemptRecord& a, const Output& out) {
  std::string text = out.paint_out(Style::bold, fmt::format("attempt {}", a.number));
  if (!a.started.empty()) text += "  " + a.started;
  if (auto ms = a.wall_ms()) text += "  " + duration(*ms);
  if (!a.outcome.empty()) {
    text += "  -> " + out.paint_out(state_style(a.outcome), a.outcome);
    if (!a.reason.empty()) text += ": " + lines_of(a.reason).front();
  } else {
    text += "  (under way)";
  }
  text += "\n";
  Table steps({});
  for (const auto& s : a.steps) {
    std::string summary = s.path.empty() || s.summary.find(s.path) != std::string::npos ? s.summary : s.path + ": " + s.summary;
    if (s.permanent) summary += " (permanent: no retry)";
    steps.add({"  " + s.step, s.plugin.empty() ? "-" : s.plugin,
               s.ok ? out.paint_out(Style::green, "ok") : out.paint_out(Style::red, "failed"),
               s.ms ? duration(*s.ms) : "-", s.usage ? usage_text(*s.usage) : "", summary});
  }
  text += steps.render();
  if (!a.feedback.empty()) {
    auto lines = lines_of(a.feedback);
    if (lines.size() > kFeedbackLines) {
      text += fmt::format("  feedback (the last {} of {} lines; all of it: `fab item log {} --attempt {}`):\n",
                          kFeedbackLines, lines.size(), rec.item.id, a.number);
      lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(kFeedbackLines));
    } else {
      text += "  feedback:\n";
    }
    for (const auto& l : lines) text += "    | " + l + "\n";
  }
  if (!a.ops.empty()) {
    std::string ops;
    for (const auto& op : a.ops) ops += (ops.empty() ? "" : " ") + op.substr(0, 12);
    text += "  jj ops    " + ops + "\n";
  }
  if (!a.files.empty()) {
    std::string files = shown(factory, a.files.front());
    for (std::size_t i = 1; i < a.files.size(); ++i) files += "  " + a.files[i].filename().string();
    text += "  files     " + files + "\n";
  }
  return text;
}

Status show_item(Factory& factory, const std::string& query, bool as_json, Output& out) {
  FAB_TRY_ASSIGN(auto rec, engine::read_item_record(factory, query));
  const Item& item = rec.item;
  if (as_json) {
    auto j = to_public_json(item);
    j["history"] = nlohmann::json::array();
    for (const auto& r : rec.history) j["history"].push_back(r.to_json());
    j["attempt_records"] = nlohmann::json::array();
    const auto line_dir = factory.store().line_dir(item.line);
    for (const auto& a : rec.attempts) j["attempt_records"].push_back(engine::to_json(a, line_dir));
    out.data_line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return {};
  }
  const std::string state(to_string(item.state));
  std::string text = fmt::format("item {}  (line {})\ntitle    {}\nstate    {}\nchange   {}\nattempts {}\n", item.id,
                                 item.line, item.title, out.paint_out(state_style(state), state),
                                 item.change ? item.change->str() : "-", item.attempts);
  if (!item.depends_on.empty()) text += fmt::format("depends  {}\n", fmt::join(item.depends_on, ", "));
  if (!item.drop_reason.empty()) text += fmt::format("dropped  {}\n", item.drop_reason);
  engine::Usage total;
  for (const auto& a : rec.attempts) total.add(a.usage());
  if (!total.empty()) text += fmt::format("usage    {}\n", usage_text(total));
  int round = 1;
  for (const auto& a : rec.attempts) {
    if (a.round != round) {
      round = a.round;
      text += "\n" + out.paint_out(Style::bold, fmt::format("round {}", round)) +
              fmt::format(" (retried; the files of round {} are in {})\n", round - 1,
                          shown(factory, engine::round_dir(rec, round - 1)));
    }
    text += "\n" + attempt_text(factory, rec, a, out);
  }
  text += "\nhistory:\n";
  Table table({"TIME", "EVENT", "DETAIL"});
  for (const auto& r : rec.history) {
    auto row = engine::describe_record(r);
    table.add({row.time, row.event, row.detail});
  }
  out.data(text + table.render());
  return {};
}

Status log_item(Factory& factory, const std::string& query, int attempt, int round, const std::string& step,
                Output& out) {
  FAB_TRY_ASSIGN(auto rec, engine::read_item_record(factory, query));
  if (round == 0) round = rec.round;
  std::vector<int> numbers;  // the attempts of that round
  for (const auto& a : rec.attempts) {
    if (a.round == round) numbers.push_back(a.number);
  }
  if (numbers.empty()) {
    return fail(fmt::format("item {} has no attempts{}", rec.item.id, round > 1 ? fmt::format(" in round {}", round) : ""),
                round > 1 ? fmt::format("it was retried; `fab item log {} --round {}` shows the round before", rec.item.id,
                                        round - 1)
                          : fmt::format("`fab run` builds it; `fab item show {}` shows its history", rec.item.id));
  }
  if (attempt == 0) attempt = numbers.back();
  if (std::find(numbers.begin(), numbers.end(), attempt) == numbers.end()) {
    return fail(fmt::format("item {} has no attempt {}{}", rec.item.id, attempt,
                            round > 1 ? fmt::format(" in round {}", round) : ""),
                fmt::format("its attempts: {}", fmt::join(numbers, ", ")));
  }
  const fs::path dir = engine::round_dir(rec, round);
  std::vector<fs::path> files;
  for (const std::string s : {"input", "agent", "inspect", "refine", "undone"}) {
    if (!step.empty() && step != s) continue;
    const auto file = dir / (s == "input" ? fmt::format("attempt-{}.md", attempt) : fmt::format("attempt-{}.{}.txt", attempt, s));
    std::error_code ec;
    if (fs::exists(file, ec)) files.push_back(file);
  }
  if (files.empty()) {
    return fail(fmt::format("attempt {} of item {} has no {} file", attempt, rec.item.id, step.empty() ? "" : step),
                fmt::format("look in {}", shown(factory, dir)));
  }
  std::string text;
  for (const auto& f : files) {
    FAB_TRY_ASSIGN(auto content, read_file_text(f));
    if (files.size() > 1) text += (text.empty() ? "" : "\n") + out.paint_out(Style::bold, "==> " + shown(factory, f) + " <==") + "\n";
    text += content;
    if (!content.empty() && content.back() != '\n') text += "\n";
  }
  out.data(text);
  return {};
}

Status retry_items(Factory& factory, const std::vector<std::string>& ids, Output& out) {
  std::vector<std::string> notes;
  FAB_TRY_ASSIGN(auto done, engine::retry_items(factory, ids, &notes));
  for (const auto& r : done) {
    std::string text = fmt::format("{}: queued again (round {})", r.item.id, r.round);
    if (!r.archived.empty()) text += fmt::format("; the files of its earlier attempts are in {}", r.archived);
    if (r.new_change) text += fmt::format("; its change was gone, it has a new one: {}", r.item.change->short_id(12));
    out.status(text);
  }
  for (const auto& n : notes) out.status("note: " + n);
  return {};
}

}  // namespace

Verb make_item_verb() {
  return {"item", "Show a work item's attempts, print an attempt's files, or retry a dropped item", false,
          [](CLI::App& app, const GlobalOptions& global) {
            app.require_subcommand(1);
            auto id = std::make_shared<std::string>();
            auto json = std::make_shared<bool>(false);
            auto* show = app.add_subcommand("show", "Show an item and each of its attempts (by item id, change id, or a unique prefix)");
            show->add_option("ID", *id, "Item id, change id, or a unique prefix of either")->required();
            show->add_flag("--json", *json, "The item, its journal history and its attempts as JSON");

            struct LogArgs {
              std::string id, step;
              int attempt = 0, round = 0;
            };
            auto log_args = std::make_shared<LogArgs>();
            auto* log = app.add_subcommand("log", "Print the files of one attempt: its input, the agent's transcript, "
                                                  "the inspectors' and resolvers' output");
            log->add_option("ID", log_args->id, "Item id, change id, or a unique prefix of either")->required();
            log->add_option("--attempt", log_args->attempt, "Which attempt (default: the last)")->check(CLI::PositiveNumber);
            log->add_option("--round", log_args->round, "Which round, for a retried item (default: the current one)")
                ->check(CLI::PositiveNumber);
            log->add_option("--step", log_args->step, "Only this file: input, agent, inspect, refine or undone")
                ->check(CLI::IsMember({"input", "agent", "inspect", "refine", "undone"}));

            auto retry_ids = std::make_shared<std::vector<std::string>>();
            auto* retry = app.add_subcommand(
                "retry", "Put dropped items (or merged ones no longer on trunk) back in the queue, attempts from 1");
            retry->add_option("ID", *retry_ids, "Item ids, change ids, or unique prefixes")->required();

            return [=, &global]() -> Status {
              auto out = global.output();
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              if (show->parsed()) return show_item(factory, *id, *json, out);
              if (log->parsed()) {
                return log_item(factory, log_args->id, log_args->attempt, log_args->round, log_args->step, out);
              }
              return retry_items(factory, *retry_ids, out);
            };
          }};
}

}  // namespace fab::cli
