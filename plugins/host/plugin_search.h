#pragma once
// Where fab looks for plugins and how a name from a blueprint becomes one .so file. By name, the
// file fab-plugin-<name>.so is looked for in: the built-in dirs (next to the fab binary, and
// <bin>/../lib/fab/plugins for an installed fab), then each dir of FAB_PLUGIN_PATH. A name found
// twice is an error naming both files (fab never picks one silently). A spec containing '/' or
// ending in ".so" is a path. Never from a place agents can write (`.factory/`, the workspaces):
// fab does not search there, and a path into one is refused.
#include <filesystem>
#include <string>
#include <vector>

#include "plugins/host/plugin_kind.h"
#include "substrate/error.h"

namespace fab::plugins {

struct HostOptions {
  std::filesystem::path fab_exe;                     // runs the plugin child; empty: /proc/self/exe
  std::vector<std::filesystem::path> builtin_dirs;   // empty: derived from fab_exe
  std::vector<std::filesystem::path> path_dirs;      // FAB_PLUGIN_PATH
  std::vector<std::filesystem::path> untrusted_dirs; // agents can write here: no plugin is loaded from under them
};

// This process's options: fab_exe = /proc/self/exe, path_dirs from FAB_PLUGIN_PATH, and with a
// factory, its `.factory/` untrusted.
HostOptions host_options_from_env(const std::filesystem::path& factory_root = {});

// The fab binary to run children with (fab_exe, or /proc/self/exe).
std::filesystem::path fab_exe_of(const HostOptions& options);

// Every directory searched, in order (builtin, FAB_PLUGIN_PATH).
std::vector<std::filesystem::path> search_dirs(const HostOptions& options);

// A plugin to call: which file, what kind the caller wants, and the fab binary that runs it.
struct PluginRef {
  std::string spec;                // as given: a name or a path
  std::filesystem::path path;      // the .so
  PluginKind kind = PluginKind::agent;
  std::filesystem::path fab_exe;
  bool by_name = false;            // found by name: the plugin must call itself `spec`
};

// Resolves a name or a path. Does not load the plugin (the child validates it on each call).
Result<PluginRef> find_plugin(const std::string& spec, PluginKind kind, const HostOptions& options);

// One fab-plugin-<name>.so in a search dir.
struct PluginFile {
  std::string name;               // from the file name
  std::filesystem::path path;
  std::filesystem::path also_at;  // non-empty: another file with the same name (a conflict)
};

// Every plugin file in the search dirs, in search order.
std::vector<PluginFile> scan_plugin_files(const HostOptions& options);

// "fab-plugin-<name>.so"
std::string plugin_file_name(const std::string& name);

}  // namespace fab::plugins
