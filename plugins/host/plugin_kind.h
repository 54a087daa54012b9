#pragma once
// The three kinds of fab plugin (agent, inspector, refinery) and their names on the command line
// and in JSON.
#include <optional>
#include <string>
#include <string_view>

namespace fab::plugins {

enum class PluginKind { agent, inspector, refinery };

std::string to_string(PluginKind kind);
// "agent" / "inspector" / "refinery"; nullopt for anything else.
std::optional<PluginKind> parse_plugin_kind(std::string_view text);

}  // namespace fab::plugins
