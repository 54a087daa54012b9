#include <cstdio>

#include <fmt/format.h>

#include "cli/table.h"
#include "cli/verbs/verbs.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_item_verb() {
  return {"item", "Show one work item and its journal history", false,
          [](CLI::App& app, const GlobalOptions&) {
            app.require_subcommand(1);
            auto* show = app.add_subcommand("show", "Show an item (by item id or change id, or a unique prefix)");
            auto json = std::make_shared<bool>(false);
            auto id = std::make_shared<std::string>();
            show->add_option("ID", *id, "Item id, change id, or a unique prefix of either")->required();
            show->add_flag("--json", *json, "The item plus its history as JSON");
            return [json, id]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto item, factory.store().find_item(*id));
              FAB_TRY_ASSIGN(auto journal, factory.store().journal(item.line));
              std::vector<JournalRecord> history;
              for (auto& r : journal) {
                if (r.str("item") == item.id) history.push_back(std::move(r));
              }
              if (*json) {
                auto j = to_public_json(item);
                j["history"] = nlohmann::json::array();
                for (const auto& r : history) j["history"].push_back(r.to_json());
                std::puts(j.dump().c_str());
                return {};
              }
              std::printf("item %s  (line %s)\ntitle    %s\nstate    %s\nchange   %s\nattempts %d\n", item.id.c_str(),
                          item.line.c_str(), item.title.c_str(), std::string(to_string(item.state)).c_str(),
                          item.change ? item.change->str().c_str() : "-", item.attempts);
              if (!item.depends_on.empty()) std::printf("depends  %s\n", fmt::format("{}", fmt::join(item.depends_on, ", ")).c_str());
              if (!item.drop_reason.empty()) std::printf("dropped  %s\n", item.drop_reason.c_str());
              std::puts("\nhistory:");
              Table table({"TIME", "FROM", "TO", "REASON"});
              for (const auto& r : history) {
                auto reason = r.str("reason");
                if (auto nl = reason.find('\n'); nl != std::string::npos) reason = reason.substr(0, nl) + " ...";
                table.add({r.time, r.str("from"), r.str("to"), reason});
              }
              std::fputs(table.render().c_str(), stdout);
              return {};
            };
          }};
}

}  // namespace fab::cli
