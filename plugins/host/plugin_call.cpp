#include "plugins/host/plugin_call.h"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "substrate/process.h"

namespace fab::plugins {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The end of what a plugin printed, for an error message: the last 20 lines, at most 2000 bytes.
std::string tail(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (t.size() > 2000) t = "..." + t.substr(t.size() - 2000);
  std::size_t pos = t.size();
  for (int lines = 0; lines < 20 && pos != std::string::npos && pos > 0; ++lines) pos = t.rfind('\n', pos - 1);
  if (pos != std::string::npos && pos > 0) t = "..." + t.substr(pos);
  return t;
}

std::string label(const PluginRef& ref) {
  return ref.by_name ? ref.spec : ref.path.filename().string();
}

Error error_from_json(const json& j) {
  Error e(j.value("message", std::string("the plugin child reported an error")));
  if (auto it = j.find("causes"); it != j.end() && it->is_array()) {
    for (const auto& c : *it) {
      if (c.is_string()) e.causes.push_back(c.get<std::string>());
    }
  }
  e.hint = j.value("hint", std::string{});
  return e;
}

PluginInfo info_from_json(const json& j) {
  PluginInfo info;
  info.name = j.value("name", std::string{});
  info.version = j.value("version", std::string{});
  info.kind = parse_plugin_kind(j.value("kind", std::string{})).value_or(PluginKind::agent);
  info.abi_version = j.value("abi_version", 0u);
  info.description = j.value("description", std::string{});
  info.settings_schema = j.value("settings_schema", std::string{});
  info.path = j.value("path", std::string{});
  return info;
}

// How one child runs: the call's options, or none (a probe).
struct ChildRun {
  std::vector<std::string> args;             // after `fab __plugin-call`
  std::optional<std::string> stdin_data;
  fs::path cwd;
  std::chrono::milliseconds timeout{0};
  const CallOptions* options = nullptr;
  fs::path plugin;                           // the .so (readable in a sandbox)
};

Result<ProcessSpec> child_spec(const std::string& who, const fs::path& fab_exe, ChildRun run) {
  ProcessSpec spec;
  const CallOptions* o = run.options;
  if (o != nullptr && o->sandbox.enabled) {
    if (auto ok = sandbox_available(); !ok) {
      return fail(ok.error().context(fmt::format("cannot run plugin '{}' in a sandbox", who)));
    }
    spec.argv = sandbox_argv(find_bwrap(), o->sandbox, run.cwd, {fab_exe, run.plugin});
    spec.env["TMPDIR"] = "/tmp";  // the only place besides the workspace it can write
  }
  spec.argv.insert(spec.argv.end(), {fab_exe.string(), "__plugin-call"});
  spec.argv.insert(spec.argv.end(), run.args.begin(), run.args.end());
  spec.stdin_data = std::move(run.stdin_data);
  spec.cwd = run.cwd;
  spec.timeout = run.timeout;
  if (o != nullptr) {
    spec.env_keep = o->env.only;
    spec.env_remove = o->env.remove;
    for (const auto& [k, v] : o->env.set) spec.env[k] = v;
    if (o->on_output) spec.on_output = [sink = o->on_output](Stream s, std::string_view text) {
      if (s == Stream::err) sink(text);  // stdout is the envelope
    };
  }
  // The envelope (stdout) must arrive whole (a refinery's answer is a whole file); what the plugin
  // printed (stderr) is kept as its tail.
  spec.out_limit = {.bytes = 256u << 20};
  spec.err_limit = {.bytes = kKeptOutputBytes, .keep_tail = true};
  spec.reap_orphans = true;
  // If this process dies (kill -9), the child hears SIGTERM and stops what its plugin started.
  spec.parent_death_signal = SIGTERM;
  return spec;
}

// Runs `fab __plugin-call ...` and returns its envelope, or why there is none.
Result<json> run_child(const std::string& who, const fs::path& fab_exe, ChildRun run, ProcessResult& proc) {
  FAB_TRY_ASSIGN(auto spec, child_spec(who, fab_exe, std::move(run)));
  auto ran = run_process(spec);
  if (!ran) return fail(ran.error().context(fmt::format("cannot start the child process for plugin '{}'", who)));
  proc = std::move(*ran);
  if (proc.out_bytes > proc.out.size()) {
    return fail(Error(fmt::format("plugin '{}' answered with more than {} MiB", who, spec.out_limit.bytes >> 20))
                    .with_hint("a result this big cannot be used; keep results (a refinery's file) smaller"));
  }
  proc.err = with_size_note(std::move(proc.err), proc.err_bytes);
  if (!proc.ok()) {
    Error e(fmt::format("plugin '{}' failed: {}", who, proc.describe()));
    if (!proc.err.empty()) e.caused_by("its last output:\n" + tail(proc.err));
    if (proc.timed_out) {
      e.hint = "the plugin did not answer in time and was stopped; raise the timeout in the blueprint, or make the "
               "plugin finish within the request's timeout_s";
    } else if (proc.signal != 0) {
      e.hint = "the plugin crashed; only this call failed. Reproduce it outside the factory with "
               "`fab plugins call <plugin> < request.json`";
    } else {
      e.hint = "the plugin ended its process itself (exit() or abort()); a plugin must return from call() instead";
    }
    return fail(std::move(e));
  }
  json envelope;
  try {
    envelope = json::parse(proc.out);
  } catch (const json::exception&) {
    envelope = nullptr;
  }
  if (!envelope.is_object() || !envelope.contains("fab_plugin_child")) {
    Error e(fmt::format("plugin '{}' gave no answer: its process ended without one", who));
    if (!proc.err.empty()) e.caused_by("its last output:\n" + tail(proc.err));
    e.hint = "the plugin probably called exit(0) inside call(); a plugin must return from call() instead";
    return fail(std::move(e));
  }
  if (auto it = envelope.find("error"); it != envelope.end()) return fail(error_from_json(*it));
  return envelope;
}

// Checks one result field's type; a missing field gets `fallback`.
Status field(json& r, const char* key, json::value_t type, json fallback, const std::string& who) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null()) {
    r[key] = std::move(fallback);
    return {};
  }
  const bool good = type == json::value_t::number_integer ? it->is_number_integer() : it->type() == type;
  if (!good) {
    return fail(Error(fmt::format("plugin '{}' returned a result fab cannot use: \"{}\" is {} {}", who, key,
                                  it->is_object() ? "an" : "a", it->type_name()))
                    .with_hint(fmt::format("\"{}\" must be {}", key,
                                           type == json::value_t::string    ? "a string"
                                           : type == json::value_t::boolean ? "true or false"
                                                                            : "an integer")));
  }
  return {};
}

// The optional fields: "retry" (agent, inspector) must be a boolean; "usage" (agent) an object of
// non-negative counts and cost. Absent stays absent.
Status optional_fields(const json& r, PluginKind kind, const std::string& who) {
  auto bad = [&](const std::string& what, const std::string& hint) {
    return fail(Error(fmt::format("plugin '{}' returned a result fab cannot use: {}", who, what)).with_hint(hint));
  };
  if (auto it = r.find("retry"); it != r.end() && !it->is_null() && !it->is_boolean()) {
    return bad(fmt::format("\"retry\" is {} {}", it->is_object() ? "an" : "a", it->type_name()),
               "\"retry\" must be true or false (false: a failure no retry can fix)");
  }
  auto it = r.find("usage");
  if (kind != PluginKind::agent || it == r.end() || it->is_null()) return {};
  const char* kUsageHint = "\"usage\" is {\"input_tokens\": int, \"output_tokens\": int, \"cost_usd\": number}, each >= 0";
  if (!it->is_object()) return bad(fmt::format("\"usage\" is {} {}", it->is_array() ? "an" : "a", it->type_name()), kUsageHint);
  for (const char* key : {"input_tokens", "output_tokens", "cost_usd"}) {
    auto v = it->find(key);
    if (v == it->end() || v->is_null()) continue;
    const bool count = key[0] != 'c';
    const bool good = count ? (v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0))
                            : (v->is_number() && v->get<double>() >= 0);
    if (!good) return bad(fmt::format("\"usage.{}\" is {}", key, v->dump()), kUsageHint);
  }
  return {};
}

Status normalise(json& r, PluginKind kind, const std::string& who) {
  if (!r.is_object()) {
    return fail(Error(fmt::format("plugin '{}' returned {} {}, not a JSON object", who,
                                  r.is_array() ? "an" : "a", r.type_name()))
                    .with_hint("the result must be one JSON object such as {\"ok\": true, ...}"));
  }
  if (auto it = r.find("ok"); it == r.end() || !it->is_boolean()) {
    return fail(Error(fmt::format("plugin '{}' returned a result without a boolean \"ok\"", who))
                    .with_hint("every result has \"ok\": true or false"));
  }
  using V = json::value_t;
  switch (kind) {
    case PluginKind::agent:
      FAB_TRY(field(r, "summary", V::string, "", who));
      FAB_TRY(field(r, "transcript", V::string, "", who));
      break;
    case PluginKind::inspector:
      FAB_TRY(field(r, "feedback", V::string, "", who));
      break;
    case PluginKind::refinery:
      if (r["ok"].get<bool>() && !r.contains("content")) {
        return fail(Error(fmt::format("plugin '{}' said ok but returned no \"content\"", who))
                        .with_hint("a refinery result carries the whole file in \"content\""));
      }
      FAB_TRY(field(r, "content", V::string, "", who));
      FAB_TRY(field(r, "resolved", V::boolean, false, who));
      FAB_TRY(field(r, "unresolved", V::number_integer, 0, who));
      FAB_TRY(field(r, "message", V::string, "", who));
      break;
  }
  return optional_fields(r, kind, who);
}

// A plugin found by name must call itself by that name.
Status check_name(const PluginRef& ref, const PluginInfo& info) {
  if (!ref.by_name || info.name == ref.spec) return {};
  return fail(Error(fmt::format("file '{}' holds plugin '{}', not '{}'", ref.path.string(), info.name, ref.spec))
                  .with_hint(fmt::format("rename the file to {} (fab finds a plugin by the name in its file name "
                                         "and checks the plugin agrees)",
                                         plugin_file_name(info.name))));
}

}  // namespace

Result<PluginCallResult> call_plugin(const PluginRef& ref, const json& request, std::chrono::milliseconds timeout,
                                     const CallOptions& options) {
  const std::string who = label(ref);
  json req = request;
  fs::path cwd;
  if (ref.kind != PluginKind::refinery && req.is_object()) {
    if (!req.contains("timeout_s") && timeout.count() > 0) {
      req["timeout_s"] = std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
    }
    if (auto it = req.find("workspace"); it != req.end() && it->is_string() && !it->get<std::string>().empty()) {
      cwd = it->get<std::string>();
      std::error_code ec;
      if (!fs::is_directory(cwd, ec)) {
        return fail(Error(fmt::format("cannot call plugin '{}': workspace '{}' is not a directory", who, cwd.string()))
                        .with_hint("the workspace must exist before its agent or inspector runs"));
      }
    }
  }
  spdlog::debug("plugin call: {} ({}) {} timeout {} ms{}", who, to_string(ref.kind), ref.path.string(),
                timeout.count(), options.sandbox.enabled ? " sandboxed" : "");
  ProcessResult proc;
  FAB_TRY_ASSIGN(json envelope,
                 run_child(who, ref.fab_exe,
                           {.args = {ref.path.string(), to_string(ref.kind)},
                            .stdin_data = req.dump(-1, ' ', false, json::error_handler_t::replace),
                            .cwd = cwd,
                            .timeout = timeout,
                            .options = &options,
                            .plugin = ref.path},
                           proc));
  PluginCallResult result;
  result.plugin = info_from_json(envelope.value("plugin", json::object()));
  result.diagnostics = std::move(proc.err);
  result.duration = proc.duration;
  FAB_TRY(check_name(ref, result.plugin));
  if (const int status = envelope.value("status", 0); status != 0) {
    Error e(fmt::format("plugin '{}' returned status {} without a result", who, status));
    if (const auto text = envelope.value("result_text", std::string{}); !text.empty()) {
      e.caused_by("it wrote: " + tail(text));
    }
    if (!result.diagnostics.empty()) e.caused_by("its last output:\n" + tail(result.diagnostics));
    e.hint = "call() returns 0 after writing its result JSON through the write callback";
    return fail(std::move(e));
  }
  if (auto bad = envelope.find("invalid_result"); bad != envelope.end()) {
    return fail(Error(fmt::format("plugin '{}' returned invalid JSON at offset {}", who, bad->value("offset", 0)))
                    .caused_by(fmt::format("near: {}", bad->value("near", std::string{})))
                    .with_hint("write exactly one JSON object through the write callback; print diagnostics to "
                               "stderr instead"));
  }
  if (!envelope.contains("result")) {
    return fail(Error(fmt::format("plugin '{}' returned no result", who))
                    .with_hint("call() must write its result JSON through the write callback before returning 0"));
  }
  result.response = std::move(envelope["result"]);
  FAB_TRY(normalise(result.response, ref.kind, who));
  result.ok = result.response["ok"].get<bool>();
  spdlog::debug("plugin call: {} answered ok={} in {} ms", who, result.ok,
                std::chrono::duration_cast<std::chrono::milliseconds>(result.duration).count());
  return result;
}

Result<PluginInfo> probe_plugin(const fs::path& path, const fs::path& fab_exe, std::chrono::milliseconds timeout,
                                std::optional<PluginKind> kind) {
  std::vector<std::string> args{"--info", path.string()};
  if (kind) args.push_back(to_string(*kind));
  ProcessResult proc;
  FAB_TRY_ASSIGN(json envelope,
                 run_child(path.filename().string(), fab_exe, {.args = std::move(args), .timeout = timeout}, proc));
  return info_from_json(envelope.value("plugin", json::object()));
}

Result<PluginRef> find_valid_plugin(const std::string& spec, PluginKind kind, const HostOptions& options,
                                    std::chrono::milliseconds timeout, PluginInfo* info) {
  FAB_TRY_ASSIGN(auto ref, find_plugin(spec, kind, options));
  FAB_TRY_ASSIGN(auto found, probe_plugin(ref.path, ref.fab_exe, timeout, kind));
  FAB_TRY(check_name(ref, found));
  if (info) *info = std::move(found);
  return ref;
}

}  // namespace fab::plugins
