#pragma once
// `fab stamp` and `fab blueprint check` refuse a blueprint whose plugins fab cannot use (missing, not
// a valid plugin, or of another kind than the key asks for) or that asks for a sandbox this machine
// cannot run, before anything is written, naming the blueprint's file:line:col. The checks
// themselves are the plugin host's (find_valid_plugin, sandbox_available).
#include <filesystem>

#include "blueprints/blueprint.h"
#include "plugins/host/plugin_search.h"
#include "substrate/error.h"

namespace fab::cli {

// Every `sandbox: true`, then every plugin the blueprint names: the agent, each inspector, each
// refinery resolver, in document order; the first one that fails is the error.
Status check_blueprint_plugins(const Blueprint& blueprint, const plugins::HostOptions& options);

// The factory around the current directory (Factory::find_root), or empty outside one: its
// `.factory/` is where no plugin is loaded from.
std::filesystem::path find_factory_dir();

}  // namespace fab::cli
