#include "cli/blueprint_plugins.h"

#include <set>
#include <utility>

#include <fmt/format.h>

#include "plugins/host/plugin_call.h"
#include "plugins/host/sandbox.h"
#include "workgraph/factory.h"

namespace fab::cli {
namespace {

namespace fs = std::filesystem;
using plugins::PluginKind;

const char* article(PluginKind kind) { return kind == PluginKind::refinery ? "a" : "an"; }

Status check_use(const Blueprint& blueprint, const PluginUse& use, PluginKind kind,
                 const plugins::HostOptions& options) {
  auto found = plugins::find_valid_plugin(use.plugin, kind, options);
  if (found) return {};
  const std::string where = use.plugin_at.empty() ? blueprint.source_path : use.plugin_at;
  const std::string key = use.plugin_at.empty() ? use.key_path + " (the default)" : use.key_path + ".plugin";
  return fail(found.error().context(fmt::format("{}: {}: cannot use plugin '{}' as {} {}", where, key, use.plugin,
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
  std::set<std::pair<std::string, PluginKind>> checked;
  for (const auto& [use, kind] : uses) {
    if (!checked.emplace(use->plugin, kind).second) continue;  // the same plugin twice is checked once
    FAB_TRY(check_use(blueprint, *use, kind, options));
  }
  return {};
}

fs::path find_factory_dir() {
  std::error_code ec;
  return Factory::find_root(fs::current_path(ec)).value_or(fs::path{});
}

}  // namespace fab::cli
