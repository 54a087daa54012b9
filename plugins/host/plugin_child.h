#pragma once
// The child side of a plugin call, run as the hidden verb `fab __plugin-call`:
//   fab __plugin-call <path.so> <kind>   reads the request JSON on stdin, loads and validates the
//                                        plugin, calls it, writes an envelope on stdout
//   fab __plugin-call --info <path.so> [kind]
//                                        loads and validates only (with a kind: also that the plugin
//                                        is of that kind), writes an envelope on stdout
// Before the plugin is loaded, stdout is moved aside and fd 1 is pointed at stderr, so whatever the
// plugin prints is kept as diagnostics and cannot corrupt the envelope. The envelope is one JSON
// object: {"fab_plugin_child": 2, "plugin": {name, version, kind, abi_version, description, path,
// settings_schema (only when the plugin has one)},
// "status": <call's return>, then "result": <the plugin's result, parsed, its long text fields cut
// to their tail> or "invalid_result": {offset, near} (not JSON) or, with a non-zero status,
// "result_text": "<what it wrote>"} or {"fab_plugin_child": 2, "error": {message, causes, hint}}
// when the plugin is invalid. The worker then ends with _exit(0), so a plugin's static destructors
// cannot crash after the answer is out.
// All of that happens in a worker process; this one supervises it (run_supervised, a subreaper)
// and, once it has ended, kills every process the plugin left running (saying how many on stderr),
// then ends as the worker did (its exit status or its signal).
#include <filesystem>
#include <optional>

#include "plugins/host/plugin_kind.h"

namespace fab::plugins {

// Never returns. info_only (or no kind): --info.
[[noreturn]] void run_plugin_child(const std::filesystem::path& so, std::optional<PluginKind> kind,
                                   bool info_only = false);

}  // namespace fab::plugins
