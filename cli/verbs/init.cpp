#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_init_verb() {
  return {"init", "Make a directory (default: here) a factory: a jj repo with .factory/ and a trunk", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto dir = std::make_shared<std::string>(".");
            auto trunk = std::make_shared<std::string>("main");
            app.add_option("DIR", *dir, "The directory (created if missing)");
            app.add_option("--trunk", *trunk, "The bookmark merged work lands on");
            return [dir, trunk, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, Factory::init(*dir, *trunk));
              if (!global.quiet) {
                std::fprintf(stderr, "Initialized factory in %s (trunk: %s)\n", factory.root().c_str(), trunk->c_str());
              }
              return {};
            };
          }};
}

}  // namespace fab::cli
