#include "cli/blueprint_plugins.h"

#include <map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "blueprints/did_you_mean.h"
#include "blueprints/settings_check.h"
#include "plugins/host/plugin_call.h"
#include "plugins/host/sandbox.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

namespace fs = std::filesystem;
using plugins::PluginKind;

const char* article(PluginKind kind) { return kind == PluginKind::refinery ? "a" : "an"; }

// Finds and probes the plugin a use names (the error located at its `plugin:` key).
Result<plugins::PluginInfo> probe_use(const Blueprint& blueprint, const PluginUse& use, PluginKind kind,
                                      const plugins::HostOptions& options) {
  plugins::PluginInfo info;
  auto found = plugins::find_valid_plugin(use.plugin, kind, options, std::chrono::seconds(30), &info);
  if (found) return info;
  const std::string where = use.plugin_at.empty() ? blueprint.source_path : use.plugin_at;
  const std::string key = use.plugin_at.empty() ? use.key_path + " (the default)" : use.key_path + ".plugin";
  return fail(with_plugin_suggestion(found.error(), use.plugin, options)
                  .context(fmt::format("{}: {}: cannot use plugin '{}' as {} {}", where, key, use.plugin,
                                       article(kind), plugins::to_string(kind))));
}

// `sandbox: true` on a machine that cannot run one: refused where it is asked for.
Status check_sandbox(const PluginUse& use) {
  if (!use.sandbox) return {};
  auto available = plugins::sandbox_available();
  if (available) return {};
  return fail(available.error().context(
      fmt::format("{}: {}.sandbox: this machine cannot run a sandbox", use.sandbox_at, use.key_path)));
}

}  // namespace

Status check_blueprint_plugins(const Blueprint& blueprint, const plugins::HostOptions& options) {
  std::vector<std::pair<const PluginUse*, PluginKind>> uses{{&blueprint.agent, PluginKind::agent}};
  for (const auto& use : blueprint.inspect) uses.emplace_back(&use, PluginKind::inspector);
  for (const auto& use : blueprint.refine) uses.emplace_back(&use, PluginKind::refinery);
  for (const auto& [use, kind] : uses) FAB_TRY(check_sandbox(*use));
  std::map<std::pair<std::string, PluginKind>, plugins::PluginInfo> probed;  // the same plugin twice: one probe
  for (const auto& [use, kind] : uses) {
    auto it = probed.find({use->plugin, kind});
    if (it == probed.end()) {
      FAB_TRY_ASSIGN(auto info, probe_use(blueprint, *use, kind, options));
      it = probed.emplace(std::pair{use->plugin, kind}, std::move(info)).first;
    }
    // Each use's settings are its own. (The loader has made sure a schema is a JSON object.)
    if (it->second.settings_schema.empty()) continue;
    FAB_TRY(check_plugin_settings(*use, nlohmann::json::parse(it->second.settings_schema), it->second.name,
                                  blueprint.source_path));
  }
  return {};
}

Error with_plugin_suggestion(Error error, const std::string& spec, const plugins::HostOptions& options) {
  if (spec.find('/') != std::string::npos || spec.ends_with(".so")) return error;
  std::vector<std::string> names;
  for (const auto& f : plugins::scan_plugin_files(options)) {
    if (f.name == spec) return error;  // it exists; something else is wrong with it
    names.push_back(f.name);
  }
  const std::vector<std::string_view> views(names.begin(), names.end());
  if (auto best = closest_match(spec, views)) {
    error.hint = fmt::format("did you mean '{}'?{}", *best, error.hint.empty() ? "" : " " + error.hint);
  }
  return error;
}

fs::path find_factory_dir() {
  std::error_code ec;
  return Factory::find_root(fs::current_path(ec)).value_or(fs::path{});
}

}  // namespace fab::cli
