#include "plugins/host/plugin_search.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "plugins/host/plugin_loader.h"

namespace fab::plugins {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "fab-plugin-";
constexpr std::string_view kSuffix = ".so";

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? p.lexically_normal() : c;
}

// A plugin under a directory agents can write is refused: they could have put it there.
Status check_not_untrusted(const PluginRef& ref, const HostOptions& options) {
  const fs::path file = resolved(ref.path);
  for (const auto& dir : options.untrusted_dirs) {
    const fs::path d = resolved(dir);
    const auto rel = file.lexically_relative(d);
    if (!rel.empty() && *rel.begin() != "..") {
      return fail(Error(fmt::format("refusing to load plugin '{}' from {}: agents can write under {}", ref.spec,
                                    ref.path.string(), dir.string()))
                      .with_hint("fab never loads a plugin from where an agent could have put it; install it in a "
                                 "directory of FAB_PLUGIN_PATH (owned by you, not writable by others) and name it "
                                 "there"));
    }
  }
  return {};
}

std::string join_dirs(const std::vector<fs::path>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : ", ") + d.string();
  return out;
}

}  // namespace

std::string plugin_file_name(const std::string& name) { return fmt::format("{}{}{}", kPrefix, name, kSuffix); }

HostOptions host_options_from_env(const fs::path& factory_root) {
  HostOptions o;
  std::error_code ec;
  o.fab_exe = fs::read_symlink("/proc/self/exe", ec);
  if (const char* p = std::getenv("FAB_PLUGIN_PATH")) {
    std::string_view rest = p;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      auto part = rest.substr(0, colon);
      if (!part.empty()) o.path_dirs.emplace_back(std::string(part));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  if (!factory_root.empty()) o.untrusted_dirs.push_back(factory_root / ".factory");
  return o;
}

fs::path fab_exe_of(const HostOptions& options) {
  if (!options.fab_exe.empty()) return options.fab_exe;
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec);
}

std::vector<fs::path> search_dirs(const HostOptions& options) {
  std::vector<fs::path> dirs = options.builtin_dirs;
  if (dirs.empty()) {
    const fs::path bin = fab_exe_of(options).parent_path();
    dirs.push_back(bin);
    dirs.push_back(bin.parent_path() / "lib" / "fab" / "plugins");
  }
  dirs.insert(dirs.end(), options.path_dirs.begin(), options.path_dirs.end());
  return dirs;
}

std::vector<PluginFile> scan_plugin_files(const HostOptions& options) {
  std::vector<PluginFile> found;
  std::set<fs::path> seen_dirs;
  for (const auto& dir : search_dirs(options)) {
    std::error_code ec;
    auto canonical = fs::weakly_canonical(dir, ec);
    if (!seen_dirs.insert(ec ? dir : canonical).second) continue;  // the same dir listed twice
    std::vector<PluginFile> here;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (file.size() <= kPrefix.size() + kSuffix.size() || file.rfind(kPrefix, 0) != 0 ||
          file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
        continue;
      }
      std::string name = file.substr(kPrefix.size(), file.size() - kPrefix.size() - kSuffix.size());
      here.push_back({std::move(name), it->path(), {}});
    }
    std::sort(here.begin(), here.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (auto& f : here) {
      for (auto& earlier : found) {
        if (earlier.name == f.name && !same_file(earlier.path, f.path)) {
          if (earlier.also_at.empty()) earlier.also_at = f.path;
          f.also_at = earlier.path;
        }
      }
      found.push_back(std::move(f));
    }
  }
  return found;
}

Result<PluginRef> find_plugin(const std::string& spec, PluginKind kind, const HostOptions& options) {
  PluginRef ref;
  ref.spec = spec;
  ref.kind = kind;
  ref.fab_exe = fab_exe_of(options);
  const bool is_path = spec.find('/') != std::string::npos ||
                       (spec.size() >= kSuffix.size() &&
                        spec.compare(spec.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0);
  if (is_path) {
    std::error_code ec;
    ref.path = fs::absolute(spec, ec);
    if (!fs::exists(ref.path, ec)) {
      return fail(Error(fmt::format("plugin file '{}' does not exist", spec))
                      .with_hint("check the path, or give the plugin's name to search the plugin directories"));
    }
    FAB_TRY(check_not_untrusted(ref, options));
    return ref;
  }
  if (!valid_plugin_name(spec)) {
    return fail(Error(fmt::format("'{}' is not a valid plugin name", spec))
                    .with_hint("a plugin name is made of letters, digits, '.', '_' and '-'; a path must contain '/'"));
  }
  std::vector<fs::path> matches;
  for (const auto& f : scan_plugin_files(options)) {
    if (f.name != spec) continue;
    bool dup = false;
    for (const auto& m : matches) dup = dup || same_file(m, f.path);
    if (!dup) matches.push_back(f.path);
  }
  if (matches.size() > 1) {
    Error e(fmt::format("{} plugins are named '{}'", matches.size(), spec));
    for (const auto& m : matches) e.caused_by(fmt::format("found {}", m.string()));
    e.hint = "remove or rename all but one of them (fab will not guess which one you meant), or name the plugin "
             "by its path";
    return fail(std::move(e));
  }
  if (matches.empty()) {
    const auto dirs = search_dirs(options);
    return fail(Error(fmt::format("no plugin named '{}'", spec))
                    .caused_by(fmt::format("looked for {} in: {}", plugin_file_name(spec), join_dirs(dirs)))
                    .with_hint("`fab plugins list` shows the plugins fab can find; put the .so in one of those "
                               "directories (or a directory in FAB_PLUGIN_PATH), or give its path"));
  }
  ref.path = matches.front();
  ref.by_name = true;
  FAB_TRY(check_not_untrusted(ref, options));
  return ref;
}

}  // namespace fab::plugins
