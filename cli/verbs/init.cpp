#include <cstdio>
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
            app.add_option("DIR", *dir, "The directory (created if missing); a git repository there is used as is");
            auto* trunk_option = app.add_option(
                "--trunk", *trunk,
                "The bookmark merged work lands on (default: the factory's, else git's current branch, else main)");
            return [dir, trunk, trunk_option, &global]() -> Status {
              std::optional<std::string> wanted;
              if (trunk_option->count() > 0) wanted = *trunk;
              if (wanted && wanted->empty()) {
                return fail(Error("--trunk needs a bookmark name", ErrorKind::usage).with_hint("e.g. --trunk main"));
              }
              FAB_TRY_ASSIGN(auto factory, Factory::init(*dir, wanted));
              if (!global.quiet) {
                std::fprintf(stderr, "Initialized factory in %s (trunk: %s)\n", factory.root().c_str(),
                             factory.config().trunk.c_str());
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
