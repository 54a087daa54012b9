#include <fmt/format.h>

#include "cli/table.h"
#include "cli/verbs/verbs.h"
#include "engine/trunk.h"
#include "workgraph/factory.h"

namespace fab::cli {

static nlohmann::json counts_json(const LineSummary& s) {
  nlohmann::json counts = nlohmann::json::object();
  for (auto state : kAllItemStates) counts[std::string(to_string(state))] = s.count(state);
  return counts;
}

Verb make_status_verb() {
  return {"status", "Show every production line with its item counts per state", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto json = std::make_shared<bool>(false);
            auto all = std::make_shared<bool>(false);
            app.add_flag("--json", *json, "One JSON object per line (JSON Lines)");
            app.add_flag("--all", *all, "Dropped lines too (`fab line drop`)");
            return [json, all, &global]() -> Status {
              auto out = global.output();
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto listing, factory.store().list_lines());
              auto& summaries = listing.lines;
              std::size_t hidden = 0;
              if (!*all) {
                hidden = std::erase_if(summaries, [](const LineSummary& s) { return !s.line.dropped.empty(); });
              }
              // A line that cannot be read is listed too, and makes the command fail once the
              // others are shown.
              auto damaged = [&]() -> Status {
                if (listing.damaged.empty()) return {};
                const auto& first = listing.damaged.front();
                Error e = first.error.context(fmt::format("{} line(s) cannot be read; the first, {}:", listing.damaged.size(), first.id));
                e.hint = "`fab recover` rebuilds a damaged line.json from the line's journal and says what it cannot repair";
                return fail(std::move(e));
              };
              // Trunks fab stopped landing on (moved backwards or sideways behind its back, deleted,
              // left conflicted), as the last run or `fab recover` found them.
              const auto halted = engine::halted_trunks(factory);
              if (*json) {
                std::string text;
                for (const auto& s : summaries) {
                  auto j = to_public_json(s.line);
                  j["counts"] = counts_json(s);
                  if (auto h = halted.find(s.line.trunk); h != halted.end()) j["trunk_halted"] = h->second;
                  text += j.dump() + "\n";
                }
                for (const auto& d : listing.damaged) {
                  text += nlohmann::json{{"id", d.id}, {"error", d.error.message}}.dump() + "\n";
                }
                out.data(text);
                return damaged();
              }
              std::vector<std::string> header{"LINE", "BLUEPRINT", "ITEMS"};
              for (auto state : kAllItemStates) header.emplace_back(to_string(state));
              Table table(header);
              for (const auto& s : summaries) {
                std::vector<std::string> row{s.line.id, s.line.blueprint, std::to_string(s.total())};
                for (auto state : kAllItemStates) row.push_back(std::to_string(s.count(state)));
                table.add(row);
              }
              for (const auto& d : listing.damaged) {
                std::vector<std::string> row{d.id, "(cannot be read)", "?"};
                for (std::size_t i = 0; i < kItemStateCount; ++i) row.push_back("?");
                table.add(row);
              }
              if (summaries.empty() && listing.damaged.empty() && hidden == 0) {
                out.data_line("No production lines yet. Create one with `fab stamp BLUEPRINT REQUIREMENT`.");
              } else {
                out.data(table.render());
              }
              for (const auto& [trunk, why] : halted) {
                out.data_line(fmt::format("Trunk {} is halted: nothing lands on it. {}.", trunk, why));
                out.data_line(fmt::format("  `fab recover --accept-trunk {}` continues from where it is now.", trunk));
              }
              if (hidden > 0) out.status(fmt::format("({} dropped line(s) not shown: `fab status --all`)", hidden));
              return damaged();
            };
          }};
}

}  // namespace fab::cli
