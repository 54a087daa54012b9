#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_init_verb() {
  return {"init", "Make a directory (default: here) a factory: a jj repo with .factory/ and a trunk", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto dir = std::make_shared<std::string>(".");
            auto trunk = std::make_shared<std::string>();
            auto change_trunk = std::make_shared<bool>(false);
            app.add_option("DIR", *dir, "The directory (created if missing); a git repository there is used as is");
            auto* trunk_option = app.add_option(
                "--trunk", *trunk, "The bookmark merged work lands on (default: git's current branch, else main)");
            app.add_flag("--change-trunk", *change_trunk,
                         "On an existing factory: make --trunk its trunk (otherwise init changes nothing there)");
            return [dir, trunk, trunk_option, change_trunk, &global]() -> Status {
              std::optional<std::string> wanted;
              if (trunk_option->count() > 0) wanted = *trunk;
              if (wanted && wanted->empty()) {
                return fail(Error("--trunk needs a bookmark name", ErrorKind::usage).with_hint("e.g. --trunk main"));
              }
              if (*change_trunk && !wanted) {
                return fail(Error("--change-trunk needs --trunk NAME", ErrorKind::usage)
                                .with_hint("e.g. `fab init --trunk main --change-trunk`"));
              }
              std::string previous;
              FAB_TRY_ASSIGN(auto factory, Factory::init(*dir, wanted, *change_trunk, &previous));
              auto out = global.output();
              const auto& now = factory.config().trunk;
              if (previous.empty()) {
                out.status(fmt::format("Initialized factory in {} (trunk: {})", factory.root().string(), now));
              } else if (previous != now) {
                out.status(fmt::format("{} is already a factory; its trunk changed from {} to {}", factory.root().string(),
                                       previous, now));
              } else {
                out.status(fmt::format("{} is already a factory (trunk: {}); nothing changed", factory.root().string(),
                                       factory.config().trunk));
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
