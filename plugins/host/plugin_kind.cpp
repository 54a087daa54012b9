#include "plugins/host/plugin_kind.h"

namespace fab::plugins {

std::string to_string(PluginKind kind) {
  switch (kind) {
    case PluginKind::agent: return "agent";
    case PluginKind::inspector: return "inspector";
    case PluginKind::refinery: return "refinery";
  }
  return "unknown";
}

std::optional<PluginKind> parse_plugin_kind(std::string_view text) {
  if (text == "agent") return PluginKind::agent;
  if (text == "inspector") return PluginKind::inspector;
  if (text == "refinery") return PluginKind::refinery;
  return std::nullopt;
}

}  // namespace fab::plugins
