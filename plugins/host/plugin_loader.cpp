#include "plugins/host/plugin_loader.h"

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "plugins/host/plugin_trust.h"

namespace fab::plugins {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSdkHint =
    "a fab plugin defines it with one line, FAB_PLUGIN(MyClass, \"name\", \"1.0.0\"), from <fab/plugin.h>, "
    "and is built with fab_add_plugin() (see plugins/README.md)";

// Every plugin stays loaded until the process ends, on purpose: the FabPluginInfo we hand out and
// its strings live in the library's memory, a plugin may have started threads or registered atexit
// handlers and thread-local destructors that point into its code, and dlclose() under any of those
// crashes later, far from the cause. The registry is leaked (never destroyed) for the same reason:
// its destructor would unload the libraries during exit. Plugin calls run in short-lived child
// processes, so nothing accumulates.
struct Registry {
  std::mutex mutex;
  std::map<std::string, boost::dll::shared_library*> libraries;
};
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

// ELF header: magic at 0, e_type (little or big endian per EI_DATA at 5) at 16.
Status check_elf(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::array<unsigned char, 18> head{};
  f.read(reinterpret_cast<char*>(head.data()), head.size());
  const bool elf = f.gcount() == static_cast<std::streamsize>(head.size()) && head[0] == 0x7f &&
                   head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
  if (!elf) {
    return fail(Error(fmt::format("'{}' is not a shared library", path.string()))
                    .caused_by("the file does not start with the ELF magic bytes (is it a text file or a script?)")
                    .with_hint("a fab plugin is a .so built with fab_add_plugin() (see plugins/README.md)"));
  }
  const unsigned type = head[5] == 2 ? (head[16] << 8u) | head[17] : head[16] | (head[17] << 8u);
  if (type != 3) {  // ET_DYN
    return fail(Error(fmt::format("'{}' is not a shared library", path.string()))
                    .caused_by(type == 2 ? "it is an ELF executable" : fmt::format("it is an ELF file of type {}", type))
                    .with_hint("a fab plugin is a .so built with fab_add_plugin() (see plugins/README.md)"));
  }
  return {};
}

Result<boost::dll::shared_library*> open_library(const fs::path& path) {
  auto& reg = registry();
  std::lock_guard lock(reg.mutex);
  const std::string key = path.string();
  if (auto it = reg.libraries.find(key); it != reg.libraries.end()) return it->second;
  try {
    auto* lib = new boost::dll::shared_library(
        boost::dll::fs::path(key), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    reg.libraries.emplace(key, lib);
    return lib;
  } catch (const std::exception& e) {
    std::string why = e.what();
    const std::string marker = "(dlerror system message: ";
    if (auto at = why.find(marker); at != std::string::npos) {
      why = why.substr(at + marker.size());
      if (!why.empty() && why.back() == ')') why.pop_back();
    }
    return fail(Error(fmt::format("cannot load plugin '{}'", key))
                    .caused_by(why)
                    .with_hint("a missing library or symbol means the plugin was linked against something this "
                               "machine lacks; rebuild it here (`ldd` shows what it needs)"));
  }
}

std::string kind_name(FabPluginKind kind) {
  switch (kind) {
    case FAB_PLUGIN_KIND_AGENT: return "agent";
    case FAB_PLUGIN_KIND_INSPECTOR: return "inspector";
    case FAB_PLUGIN_KIND_REFINERY: return "refinery";
    default: return fmt::format("unknown kind {}", kind);
  }
}

// A settings schema must at least be one JSON object (blueprint checks read its parts, and say
// which plugin is to blame for a part they cannot use).
template <class Bad>
Status check_settings_schema(const char* text, const Bad& bad) {
  const char* kHint = "settings_schema is a JSON Schema object such as {\"type\": \"object\", \"properties\": {...}}, "
                      "or NULL; the SDK builds it from settings()";
  nlohmann::json schema;
  try {
    schema = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return bad(fmt::format("its settings schema is not valid JSON (at offset {})", e.byte > 0 ? e.byte - 1 : 0), kHint);
  }
  if (!schema.is_object()) return bad(fmt::format("its settings schema is {}, not a JSON object", schema.type_name()), kHint);
  return {};
}

}  // namespace

bool valid_plugin_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<LoadedPlugin> load_plugin(const fs::path& given) {
  std::error_code ec;
  if (!fs::exists(given, ec)) {
    return fail(Error(fmt::format("plugin file '{}' does not exist", given.string()))
                    .with_hint("check the path; `fab plugins list` shows the plugins fab can find"));
  }
  if (!fs::is_regular_file(given, ec)) {
    return fail(Error(fmt::format("'{}' is not a shared library", given.string()))
                    .caused_by("it is not a regular file")
                    .with_hint("give the path of the plugin's .so file"));
  }
  FAB_TRY(check_plugin_trust(given));
  const fs::path path = fs::canonical(given, ec);
  FAB_TRY(check_elf(path));
  FAB_TRY_ASSIGN(auto* lib, open_library(path));

  if (!lib->has(FAB_PLUGIN_ENTRY_POINT)) {
    return fail(Error(fmt::format("'{}' has no {}() entry point: is this a fab plugin?", path.string(),
                                  FAB_PLUGIN_ENTRY_POINT))
                    .with_hint(kSdkHint));
  }
  auto& entry = lib->get<const FabPluginInfo*()>(FAB_PLUGIN_ENTRY_POINT);
  const FabPluginInfo* abi = entry();
  auto bad = [&](std::string what, std::string hint) {
    return fail(Error(fmt::format("plugin '{}' is invalid: {}", path.string(), what)).with_hint(std::move(hint)));
  };
  if (abi == nullptr) return bad(fmt::format("{}() returned NULL", FAB_PLUGIN_ENTRY_POINT), kSdkHint);
  if (abi->abi_version != FAB_PLUGIN_ABI_VERSION) {
    return fail(Error(fmt::format("plugin '{}' was built for plugin ABI {}, this fab speaks ABI {}", path.string(),
                                  abi->abi_version, FAB_PLUGIN_ABI_VERSION))
                    .with_hint("rebuild the plugin against this fab's headers (find_package(fab) from this "
                               "installation)"));
  }
  if (abi->struct_size < FAB_PLUGIN_INFO_V1_SIZE) {
    return bad(fmt::format("its FabPluginInfo is {} bytes, ABI {} needs at least {}", abi->struct_size,
                           FAB_PLUGIN_ABI_VERSION, FAB_PLUGIN_INFO_V1_SIZE),
               "fill in struct_size with sizeof(FabPluginInfo), or let FAB_PLUGIN(...) do it");
  }
  if (abi->name == nullptr || !valid_plugin_name(abi->name)) {
    return bad(abi->name == nullptr ? std::string("it has no name")
                                    : fmt::format("its name '{}' is not valid", abi->name),
               "a plugin name is made of letters, digits, '.', '_' and '-'");
  }
  if (abi->version == nullptr || abi->version[0] == '\0') {
    return bad("it has no version", "give a version string such as \"1.0.0\"");
  }
  if (abi->kind != FAB_PLUGIN_KIND_AGENT && abi->kind != FAB_PLUGIN_KIND_INSPECTOR &&
      abi->kind != FAB_PLUGIN_KIND_REFINERY) {
    return bad(kind_name(abi->kind),
               "kind must be FAB_PLUGIN_KIND_AGENT, FAB_PLUGIN_KIND_INSPECTOR or FAB_PLUGIN_KIND_REFINERY");
  }
  if (abi->call == nullptr) {
    return bad("its call callback is NULL", "set call to the function that handles a request");
  }

  LoadedPlugin loaded;
  loaded.abi = abi;
  loaded.info.name = abi->name;
  loaded.info.version = abi->version;
  loaded.info.kind = abi->kind == FAB_PLUGIN_KIND_AGENT       ? PluginKind::agent
                     : abi->kind == FAB_PLUGIN_KIND_INSPECTOR ? PluginKind::inspector
                                                              : PluginKind::refinery;
  loaded.info.abi_version = abi->abi_version;
  loaded.info.path = path;
  if (abi->describe != nullptr) {
    if (const char* d = abi->describe()) loaded.info.description = d;
  }
  if (FAB_PLUGIN_INFO_HAS(abi, settings_schema) && abi->settings_schema != nullptr) {
    FAB_TRY(check_settings_schema(abi->settings_schema, bad));
    loaded.info.settings_schema = abi->settings_schema;
  }
  return loaded;
}

Status expect_kind(const PluginInfo& info, PluginKind wanted) {
  if (info.kind == wanted) return {};
  auto article = [](PluginKind k) { return k == PluginKind::agent || k == PluginKind::inspector ? "an" : "a"; };
  return fail(Error(fmt::format("plugin '{}' is {} {} plugin, but {} {} was asked for", info.name, article(info.kind),
                                to_string(info.kind), article(wanted), to_string(wanted)))
                  .caused_by(fmt::format("loaded from {}", info.path.string()))
                  .with_hint(fmt::format("use it where the blueprint names {} {}, or pick {} {} plugin "
                                         "(`fab plugins list` shows each plugin's kind)",
                                         article(info.kind), to_string(info.kind), article(wanted),
                                         to_string(wanted))));
}

}  // namespace fab::plugins
