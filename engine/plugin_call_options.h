#pragma once
// What one plugin call of a line gets besides its request (plugins::CallOptions): for an agent or an
// inspector, fab's environment without the line's secrets (the variables every `api_key_env` of
// `refine[].with` names) or, with `env: [...]`, only the variables listed (a secret listed there is
// given: that is how an agent gets the same key on purpose); and with `sandbox: true`, a sandbox in
// which only its workspace is writable. A refinery (the LLM resolver needs its key) gets neither.
#include <filesystem>

#include "blueprints/blueprint.h"
#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_kind.h"

namespace fab::engine {

// Where a call runs, for its sandbox.
struct CallPlaces {
  std::filesystem::path workspace;        // writable
  std::filesystem::path factory_root;     // the user's checkout, with .jj/ and .factory/: read-only
  std::filesystem::path workspaces_root;  // every item's workspace: read-only (but `workspace`)
};

plugins::CallOptions call_options_for(const Blueprint& blueprint, const PluginUse& use, plugins::PluginKind kind,
                                      const CallPlaces& places);

}  // namespace fab::engine
