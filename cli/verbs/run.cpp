// `fab run [--slots N] [--until-idle] [--line ID] [--grace S]`: the production floor (engine/floor.h).
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/floor.h"
#include "engine/run_control.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

// "fab: 40 items: 2 building, 1 refining, 30 merged, 7 queued" (the states that have items).
std::string live_summary(const Factory& factory) {
  auto summaries = factory.store().summaries();
  if (!summaries) return "";
  std::array<std::size_t, kItemStateCount> counts{};
  std::size_t total = 0;
  for (const auto& s : *summaries) {
    for (std::size_t i = 0; i < kItemStateCount; ++i) counts[i] += s.counts[i];
    total += s.total();
  }
  std::string out = fmt::format("fab: {} items:", total);
  const char* sep = " ";
  for (auto state : kAllItemStates) {
    if (auto n = counts[static_cast<std::size_t>(state)]; n > 0) {
      out += fmt::format("{}{} {}", sep, n, to_string(state));
      sep = ", ";
    }
  }
  return out;
}

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
              const bool live = !global.quiet && ::isatty(STDERR_FILENO) == 1;
              if (live) {
                // On a terminal: each transition line, then a summary kept on the last line.
                options.progress = [&factory](const std::string& text) {
                  std::fprintf(stderr, "\r\033[K%s\n%s", text.c_str(), live_summary(factory).c_str());
                  std::fflush(stderr);
                };
              } else if (!global.quiet) {
                options.progress = [](const std::string& text) { std::fprintf(stderr, "%s\n", text.c_str()); };
              }
              auto report = engine::run_floor(factory, options);
              if (live) std::fputs("\r\033[K", stderr);
              if (!report) return fail(report.error());
              if (!global.quiet) {
                std::fprintf(stderr, "fab: %s: %d merged, %d dropped, %d sent to rework\n",
                             report->stopped ? "stopped" : "idle", report->merged, report->dropped, report->reworked);
                for (const auto& b : report->blocked) {
                  std::fprintf(stderr, "fab: %s cannot start: a dependency was dropped\n", b.c_str());
                }
                for (const auto& s : report->skipped) std::fprintf(stderr, "fab: line %s (skipped)\n", s.c_str());
                for (const auto& h : report->halted) std::fprintf(stderr, "fab: not landing on %s\n", h.c_str());
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
