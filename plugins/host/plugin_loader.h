#pragma once
// Loads a plugin .so into THIS process and validates its fab_plugin_info() before anything else of
// it is called. Only the plugin child (`fab __plugin-call`) does this; everyone else goes through
// plugin_call.h, which keeps a misbehaving plugin out of the calling process.
#include <cstdint>
#include <filesystem>
#include <string>

#include "plugins/abi/fab_plugin.h"
#include "plugins/host/plugin_kind.h"
#include "substrate/error.h"

namespace fab::plugins {

// What a plugin says about itself.
struct PluginInfo {
  std::string name;
  std::string version;
  PluginKind kind = PluginKind::agent;
  std::string description;  // from describe(); may be empty
  std::string settings_schema;  // the JSON Schema of its `with:` (a JSON object's text); empty: none
  std::uint32_t abi_version = 0;
  std::filesystem::path path;
};

struct LoadedPlugin {
  PluginInfo info;
  const FabPluginInfo* abi = nullptr;  // valid for the life of the process (never unloaded)
};

// Checks the file (exists, is trusted: check_plugin_trust(), is an ELF shared object), loads it once per process (later calls return
// the same plugin), and validates the entry point, ABI version, struct size, name, version, kind
// and callbacks, each failure with its own error and hint. A plugin built against an older header
// (a smaller FabPluginInfo, down to FAB_PLUGIN_INFO_V1_SIZE) loads; fields it lacks read as absent.
// A settings schema that is not a JSON object makes the plugin invalid.
Result<LoadedPlugin> load_plugin(const std::filesystem::path& path);

// Fails unless the plugin is of kind `wanted` ("'x' is an inspector plugin, not an agent").
Status expect_kind(const PluginInfo& info, PluginKind wanted);

// [A-Za-z0-9._-]+ (a plugin's name is part of its file name).
bool valid_plugin_name(const std::string& name);

}  // namespace fab::plugins
