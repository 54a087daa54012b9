// `fab __plugin-call <path.so> <kind>` / `fab __plugin-call --info <path.so> [kind]`: the hidden verb that
// runs one plugin call in its own process (see plugins/host/plugin_child.h). Never typed by users.
#include <memory>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "plugins/host/plugin_child.h"

namespace fab::cli {

Verb make_plugin_call_verb() {
  return {"__plugin-call", "Run one plugin call in this process (internal)", true,
          [](CLI::App& app, const GlobalOptions&) {
            auto path = std::make_shared<std::string>();
            auto kind = std::make_shared<std::string>();
            auto info = std::make_shared<bool>(false);
            app.add_flag("--info", *info, "Only load and validate the plugin, and report what it is");
            app.add_option("plugin", *path, "The plugin's .so")->required();
            app.add_option("kind", *kind,
                           "agent, inspector or refinery (read the request on stdin; with --info: only check "
                           "the plugin is of this kind)");
            return [=]() -> Status {
              if (*info && kind->empty()) plugins::run_plugin_child(*path, std::nullopt, true);
              auto k = plugins::parse_plugin_kind(*kind);
              if (!k) {
                return fail(Error(fmt::format("unknown plugin kind '{}'", *kind), ErrorKind::usage)
                                .with_hint("use agent, inspector or refinery, or --info"));
              }
              plugins::run_plugin_child(*path, *k, *info);
            };
          }};
}

}  // namespace fab::cli
