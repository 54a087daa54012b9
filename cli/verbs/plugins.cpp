// `fab plugins list|check|call`: what plugins fab can find, whether one is valid, and a way for a
// plugin author to try one outside a factory (request JSON in, result JSON out).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "blueprints/settings_check.h"
#include "cli/blueprint_plugins.h"
#include "cli/verbs/verbs.h"
#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_search.h"

namespace fab::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json info_json(const plugins::PluginInfo& info) {
  return {{"name", info.name},
          {"kind", plugins::to_string(info.kind)},
          {"version", info.version},
          {"abi_version", info.abi_version},
          {"description", info.description},
          {"path", info.path.string()},
          // (The loader has made sure a schema is a JSON object.)
          {"settings_schema", info.settings_schema.empty() ? json(nullptr) : json::parse(info.settings_schema)}};
}

// Every line but the first indented by `pad`; "(no settings)\n" for none.
std::string indent_lines(const std::string& text, const std::string& pad) {
  if (text.empty()) return "(no settings)\n";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += pad;
  }
  return out;
}

Status list_plugins(bool as_json, Output& out) {
  const auto options = plugins::host_options_from_env(find_factory_dir());
  const auto exe = plugins::fab_exe_of(options);
  json rows = json::array();
  for (const auto& file : plugins::scan_plugin_files(options)) {
    json row = {{"name", file.name}, {"path", file.path.string()}, {"valid", true}};
    auto info = plugins::probe_plugin(file.path, exe);
    if (!info) {
      row["valid"] = false;
      row["error"] = info.error().message;
    } else {
      row["kind"] = plugins::to_string(info->kind);
      row["version"] = info->version;
      row["description"] = info->description;
      if (info->name != file.name) {
        row["valid"] = false;
        row["error"] = fmt::format("the file is named for '{}' but holds plugin '{}'", file.name, info->name);
      }
    }
    if (!file.also_at.empty()) {
      row["valid"] = false;
      row["conflicts_with"] = file.also_at.string();
      if (!row.contains("error")) row["error"] = fmt::format("another plugin named '{}' is at {}", file.name, file.also_at.string());
    }
    rows.push_back(std::move(row));
  }
  if (as_json) {  // JSON Lines, like every other listing
    for (const auto& r : rows) out.data_line(r.dump(-1, ' ', false, json::error_handler_t::replace));
    return {};
  }
  if (rows.empty()) {
    std::string dirs;
    for (const auto& d : plugins::search_dirs(options)) dirs += "\n  " + d.string();
    out.status("no plugins found; looked in:" + dirs);
    return {};
  }
  std::string text = fmt::format("{:<20} {:<10} {:<10} {}\n", "NAME", "KIND", "VERSION", "PATH");
  for (const auto& r : rows) {
    text += fmt::format("{:<20} {:<10} {:<10} {}\n", r["name"].get<std::string>(), r.value("kind", "-"),
                        r.value("version", "-"), r["path"].get<std::string>());
    if (r.contains("error")) text += fmt::format("{:<20} {}: {}\n", "", out.paint_out(Style::red, "invalid"), r["error"].get<std::string>());
  }
  out.data(text);
  return {};
}

Status check_plugin(const std::string& spec, bool as_json, Output& out) {
  const auto options = plugins::host_options_from_env(find_factory_dir());
  auto found = plugins::find_plugin(spec, plugins::PluginKind::agent, options);
  if (!found) return fail(with_plugin_suggestion(found.error(), spec, options));
  auto ref = *found;
  FAB_TRY_ASSIGN(auto info, plugins::probe_plugin(ref.path, ref.fab_exe));
  const std::string expected_file = plugins::plugin_file_name(info.name);
  if (as_json) {
    json j = info_json(info);
    j["found_by_name_as"] = expected_file;
    out.data_line(j.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    std::string text = fmt::format("valid fab plugin: {}\n", info.path.string());
    text += fmt::format("  name:    {}\n  kind:    {}\n  version: {}\n  abi:     {}\n", info.name,
                        plugins::to_string(info.kind), info.version, info.abi_version);
    if (!info.description.empty()) text += fmt::format("  about:   {}\n", info.description);
    if (!info.settings_schema.empty()) {
      text += "  with:    " + indent_lines(describe_settings(json::parse(info.settings_schema)), "           ");
    }
    out.data(text);
  }
  if (ref.path.filename() != expected_file) {
    out.status(fmt::format("note: fab finds this plugin by name only if the file is named {}", expected_file));
  }
  if (ref.by_name && info.name != spec) {
    return fail(Error(fmt::format("file '{}' holds plugin '{}', not '{}'", ref.path.string(), info.name, spec))
                    .with_hint(fmt::format("rename the file to {}", expected_file)));
  }
  return {};
}

Status call_plugin_verb(const std::string& spec, const std::string& kind_text, const std::string& request_file,
                        int timeout_s, bool sandbox, Output& out) {
  const auto options = plugins::host_options_from_env(find_factory_dir());
  std::string text;
  if (request_file.empty() || request_file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(request_file, std::ios::binary);
    if (!f) return fail(fmt::format("cannot read request file '{}'", request_file), "check the path");
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  json request;
  try {
    request = json::parse(text);
  } catch (const json::parse_error& e) {
    return fail(Error(fmt::format("{}: invalid JSON at offset {}", request_file.empty() ? "<stdin>" : request_file,
                                  e.byte > 0 ? e.byte - 1 : 0))
                    .with_hint("give the request as one JSON object (see plugins/abi/fab_plugin.h for its fields)"));
  }
  std::optional<plugins::PluginKind> kind;
  if (!kind_text.empty()) {
    kind = plugins::parse_plugin_kind(kind_text);
    if (!kind) {
      return fail(Error(fmt::format("unknown plugin kind '{}'", kind_text), ErrorKind::usage)
                      .with_hint("use agent, inspector or refinery"));
    }
  }
  auto found = plugins::find_plugin(spec, kind.value_or(plugins::PluginKind::agent), options);
  if (!found) return fail(with_plugin_suggestion(found.error(), spec, options));
  auto ref = *found;
  if (!kind) {
    FAB_TRY_ASSIGN(auto info, plugins::probe_plugin(ref.path, ref.fab_exe));
    ref.kind = info.kind;
  }
  plugins::CallOptions call_options;
  if (sandbox) {
    call_options.sandbox.enabled = true;
    if (request.is_object() && request.value("workspace", std::string{}) != "") {
      call_options.sandbox.writable = {request["workspace"].get<std::string>()};
    }
  }
  FAB_TRY_ASSIGN(auto result, plugins::call_plugin(ref, request, std::chrono::seconds(timeout_s), call_options));
  if (!result.diagnostics.empty()) {
    auto d = result.diagnostics;
    if (d.back() == '\n') d.pop_back();
    out.status(d);
  }
  out.data_line(result.response.dump(2, ' ', false, json::error_handler_t::replace));
  if (!result.ok) {
    return fail(Error(fmt::format("plugin '{}' answered \"ok\": false", spec))
                    .with_hint("its result above says why"));
  }
  return {};
}

}  // namespace

Verb make_plugins_verb() {
  return {"plugins", "List, check and try plugins (agents, inspectors, refinery resolvers)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            app.require_subcommand(1);
            auto list_json = std::make_shared<bool>(false);
            auto* list = app.add_subcommand("list", "List every plugin fab can find: name, kind, version, path");
            list->add_flag("--json", *list_json, "One JSON object per plugin (JSON Lines)");

            auto check_spec = std::make_shared<std::string>();
            auto check_json = std::make_shared<bool>(false);
            auto* check = app.add_subcommand("check", "Validate one plugin and print what it is (exit 1 if invalid)");
            check->add_option("plugin", *check_spec, "The plugin's .so (or its name)")->required();
            check->add_flag("--json", *check_json, "Print what it is as one JSON object");

            auto call_spec = std::make_shared<std::string>();
            auto call_kind = std::make_shared<std::string>();
            auto call_request = std::make_shared<std::string>();
            auto call_timeout = std::make_shared<int>(60);
            auto call_sandbox = std::make_shared<bool>(false);
            auto* call = app.add_subcommand(
                "call", "Call a plugin once, as the factory would: request JSON in (stdin), result JSON out");
            call->add_option("plugin", *call_spec, "The plugin's name or .so")->required();
            call->add_option("--kind", *call_kind, "agent, inspector or refinery (default: what the plugin is)");
            call->add_option("--request", *call_request, "Read the request from this file instead of stdin");
            call->add_option("--timeout", *call_timeout, "Seconds before the call is stopped")->check(CLI::PositiveNumber);
            call->add_flag("--sandbox", *call_sandbox,
                           "Run it under bubblewrap, as `sandbox: true` does (only the request's workspace and a "
                           "private /tmp writable)");

            const GlobalOptions* g = &global;
            return [=]() -> Status {
              auto out = g->output();
              if (list->parsed()) return list_plugins(*list_json, out);
              if (check->parsed()) return check_plugin(*check_spec, *check_json, out);
              return call_plugin_verb(*call_spec, *call_kind, *call_request, *call_timeout, *call_sandbox, out);
            };
          }};
}

}  // namespace fab::cli
