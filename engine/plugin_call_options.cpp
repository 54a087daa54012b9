#include "engine/plugin_call_options.h"

#include <algorithm>

namespace fab::engine {

plugins::CallOptions call_options_for(const Blueprint& blueprint, const PluginUse& use, plugins::PluginKind kind,
                                      const CallPlaces& places) {
  plugins::CallOptions options;
  if (kind == plugins::PluginKind::refinery) return options;
  options.env.only = use.env;
  for (auto& name : secret_env_names(blueprint)) {
    const bool listed = use.env && std::find(use.env->begin(), use.env->end(), name) != use.env->end();
    if (!listed) options.env.remove.push_back(std::move(name));
  }
  if (use.sandbox) {
    options.sandbox.enabled = true;
    options.sandbox.writable = {places.workspace};
    options.sandbox.read_only = {places.factory_root, places.workspaces_root};
  }
  return options;
}

}  // namespace fab::engine
