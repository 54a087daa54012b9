#pragma once
// Calling a plugin without letting it hurt the caller: every call runs in a child process
// (`fab __plugin-call`, see plugin_child.h) under a timeout, so a segfault, an abort, a hang or
// garbage output fails that one call with a reason ("killed by signal 11 (Segmentation fault)",
// "timed out after 600 s", "invalid JSON at offset 12") and the caller carries on. Every process
// the call starts ends with it, however it detached itself (see call_plugin).
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/host/plugin_loader.h"
#include "plugins/host/plugin_search.h"
#include "plugins/host/sandbox.h"
#include "substrate/error.h"
#include "substrate/process.h"

namespace fab::plugins {

// Which of fab's environment variables the plugin child (the plugin and what it runs) gets.
struct EnvPolicy {
  std::optional<std::vector<std::string>> only;  // nullopt: all of them; else only these
  std::vector<std::string> remove;               // never these (the line's secrets)
  std::map<std::string, std::string> set;        // and these, set by fab (whatever `only` says)
};

struct CallOptions {
  EnvPolicy env;
  SandboxSpec sandbox;
  // Every piece the plugin prints (stdout and stderr), as it prints it, on the calling thread: so a
  // caller keeps what a plugin printed before it timed out or crashed (the error then carries only
  // its last lines).
  std::function<void(std::string_view)> on_output;
};

struct PluginCallResult {
  // The plugin's result with every documented field of its kind present and of the right type
  // (missing strings are "", a missing "resolved" is false, "unresolved" 0); extra fields kept.
  // The optional "usage" (agent) and "retry" (agent, inspector) are type-checked, left absent if so.
  nlohmann::json response;
  bool ok = false;           // response["ok"]
  PluginInfo plugin;         // who answered
  // What the plugin printed on stdout/stderr during the call (its last kKeptOutputBytes, after a
  // line saying how much there was). The built-in shell agent and command inspector stream their
  // command's output here too, so it is also their transcript / feedback.
  std::string diagnostics;
  std::chrono::microseconds duration{0};

  // False when the plugin marked its failure permanent ("retry": false): no retry can fix it.
  bool retryable() const {
    auto it = response.find("retry");
    return it == response.end() || !it->is_boolean() || it->get<bool>();
  }
};

// Runs one call. For agents and inspectors the child's cwd is request["workspace"] and a missing
// "timeout_s" is filled in from `timeout`. "ok": false is a successful call (the plugin said no);
// an Error means the plugin could not give an answer at all. A transcript, feedback or message
// longer than kKeptOutputBytes is cut to its tail (with a note of its size), never an error.
//
// Processes: the child supervises the plugin, which runs in a worker process of its own, as a
// subreaper (run_supervised), and so (from the first call on) is this process. What the plugin left
// running when it returned, in its process group or not (`setsid cmd &`, a double fork), is killed
// before the call returns (the diagnostics say how many); if the worker or the child is killed
// (SIGKILL), what it started is re-parented to the child or to this process and killed; if this
// process dies, the child hears SIGTERM and kills it all. With options.sandbox enabled the call
// runs under bubblewrap (sandbox.h), in a PID namespace of its own.
Result<PluginCallResult> call_plugin(const PluginRef& ref, const nlohmann::json& request,
                                     std::chrono::milliseconds timeout, const CallOptions& options = {});

// Loads and validates a plugin in a child process and reports what it says about itself. With
// `kind`, a plugin of another kind is an error too (the same one a call would give).
Result<PluginInfo> probe_plugin(const std::filesystem::path& path, const std::filesystem::path& fab_exe,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                std::optional<PluginKind> kind = std::nullopt);

// A plugin named in a blueprint, found and checked before anything is built with it: find_plugin(),
// then a probe in a child process (so a plugin that crashes on load fails only the check): it loads,
// its ABI version, struct size, name, version and callbacks are valid, it is of kind `kind`, and,
// found by name, it calls itself `spec`. Each failure is the error `fab plugins check` (or a call)
// gives for it. The returned ref is ready for call_plugin(); `info` (if given) gets what the plugin
// says about itself (its settings schema, say).
Result<PluginRef> find_valid_plugin(const std::string& spec, PluginKind kind, const HostOptions& options,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                                    PluginInfo* info = nullptr);

}  // namespace fab::plugins
