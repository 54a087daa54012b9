#include "cli/verbs/verbs.h"

namespace fab::cli {

Verb make_version_verb() {
  return {"version", "Print fab's version", false, [](CLI::App&, const GlobalOptions& global) {
            return [&global]() -> Status {
              global.output().data_line("fab 0.1.0");
              return {};
            };
          }};
}

}  // namespace fab::cli
