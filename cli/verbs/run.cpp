// `fab run [--slots N] [--until-idle] [--line ID] [--grace S]`: the production floor (engine/floor.h).
// Progress goes to stderr: one line per transition and note (each thing said once), a line when the
// floor goes idle, and on a terminal a live summary kept on the last line (items per state, items
// merged per minute).
#include <array>
#include <chrono>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/floor.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

using Clock = std::chrono::steady_clock;

// What the live line shows: items per state (of the lines this run works on), and the merge rate.
class Progress {
 public:
  Progress(const Factory& factory, const std::string& line, Output& out) : m_out(out), m_start(Clock::now()) {
    if (auto summaries = factory.store().summaries()) {
      for (const auto& s : *summaries) {
        if (!line.empty() && s.line.id != line) continue;
        for (std::size_t i = 0; i < kItemStateCount; ++i) m_counts[i] += s.counts[i];
      }
    }
  }

  void on(const engine::RunEvent& e) {
    using K = engine::RunEvent::Kind;
    switch (e.kind) {
      case K::transition: {
        auto& from = m_counts[static_cast<std::size_t>(e.from)];
        if (from > 0) --from;
        ++m_counts[static_cast<std::size_t>(e.to)];
        if (e.to == ItemState::merged) ++m_merged;
        std::string text = fmt::format("fab: {} {} -> {} (attempt {})", e.item, to_string(e.from),
                                       m_out.paint_err(style(e.to), std::string(to_string(e.to))), e.attempts);
        if (!e.text.empty()) text += ": " + e.text;
        m_out.status(text);
        break;
      }
      case K::note: m_out.status("fab: " + e.text); break;
      case K::idle:
        m_out.status(fmt::format("fab: idle: nothing to build ({} merged, {} dropped so far); waiting for work "
                                 "(`fab stamp` adds some; `fab stop` or Ctrl-C ends the run)",
                                 count(ItemState::merged), count(ItemState::dropped)));
        break;
    }
    m_out.live(summary());
  }

  // "fab: 2 building · 1 inspecting · 0 refining · 30 merged · 1 dropped · 4.2 items/min"
  std::string summary() const {
    const double minutes = std::chrono::duration<double>(Clock::now() - m_start).count() / 60.0;
    const std::string rate = m_merged == 0 || minutes <= 0 ? "- items/min" : fmt::format("{:.1f} items/min", m_merged / minutes);
    return fmt::format("fab: {} building · {} inspecting · {} refining · {} merged · {} dropped · {}",
                       count(ItemState::building), count(ItemState::inspecting), count(ItemState::refining),
                       count(ItemState::merged), count(ItemState::dropped), rate);
  }

 private:
  std::size_t count(ItemState s) const { return m_counts[static_cast<std::size_t>(s)]; }
  static Style style(ItemState s) {
    switch (s) {
      case ItemState::merged: return Style::green;
      case ItemState::dropped: return Style::red;
      case ItemState::rework: return Style::yellow;
      default: return Style::cyan;
    }
  }

  Output& m_out;
  Clock::time_point m_start;
  std::array<std::size_t, kItemStateCount> m_counts{};
  int m_merged = 0;  // by this run
};

}  // namespace

Verb make_run_verb() {
  return {"run", "Run the factory floor: build, inspect, refine and merge work items", false,
          [](CLI::App& app, const GlobalOptions& global) {
            struct Args {
              int slots = 0;
              bool until_idle = false;
              std::string line;
              double grace_s = 10;
            };
            auto args = std::make_shared<Args>();
            app.add_option("--slots", args->slots, "Items building at once over all lines (default: each line's blueprint slots)")
                ->check(CLI::Range(1, 256));
            app.add_flag("--until-idle", args->until_idle, "Stop when no item can move");
            app.add_option("--line", args->line, "Only this line");
            app.add_option("--grace", args->grace_s, "Seconds running agents get after a stop request")
                ->check(CLI::NonNegativeNumber);
            return [args, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto lock, engine::take_run_lock(factory, "run"));
              engine::RunOptions options;
              if (args->slots > 0) options.slots = args->slots;
              options.until_idle = args->until_idle;
              options.line = args->line;
              options.grace = std::chrono::milliseconds(static_cast<long long>(args->grace_s * 1000));
              options.host = plugins::host_options_from_env(factory.root());
              auto out = global.output();
              Progress progress(factory, args->line, out);
              if (!out.quiet()) {
                options.events = [&progress](const engine::RunEvent& e) { progress.on(e); };
                out.live(progress.summary());
              }
              auto report = engine::run_floor(factory, options);
              out.end_live();
              if (!report) return fail(report.error());
              out.status(fmt::format("fab: {}: {} merged, {} dropped, {} sent to rework", report->stopped ? "stopped" : "idle",
                                     report->merged, report->dropped, report->reworked));
              for (const auto& b : report->blocked) out.status(fmt::format("fab: {} cannot start: a dependency was dropped", b));
              for (const auto& l : report->skipped) out.status(fmt::format("fab: line {} (skipped)", l));
              for (const auto& h : report->halted) out.status(fmt::format("fab: not landing on {}", h));
              return {};
            };
          }};
}

}  // namespace fab::cli
