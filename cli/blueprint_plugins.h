#pragma once
// `fab stamp`, `fab blueprint check` and `fab line reblueprint` refuse a blueprint whose plugins fab
// cannot use (missing, not a valid plugin, or of another kind than the key asks for), that asks for
// a sandbox this machine cannot run, or whose `with:` settings a plugin's settings schema refuses,
// before anything is written, naming the blueprint's file:line:col. The checks themselves are the
// plugin host's (find_valid_plugin, sandbox_available) and blueprints/settings_check.h's.
#include <filesystem>

#include "blueprints/blueprint.h"
#include "plugins/host/plugin_search.h"
#include "substrate/error.h"

namespace fab::cli {

// Every `sandbox: true`, then every plugin the blueprint names: the agent, each inspector, each
// refinery resolver, in document order; the first one that fails (or whose settings are wrong) is
// the error.
Status check_blueprint_plugins(const Blueprint& blueprint, const plugins::HostOptions& options);

// `error` (about plugin `spec`) with "did you mean 'shell'?" in front of its hint when `spec` is a
// name no plugin has and one plugin fab can find is named much like it.
Error with_plugin_suggestion(Error error, const std::string& spec, const plugins::HostOptions& options);

// The factory around the current directory (Factory::find_root), or empty outside one: its
// `.factory/` is where no plugin is loaded from.
std::filesystem::path find_factory_dir();

}  // namespace fab::cli
