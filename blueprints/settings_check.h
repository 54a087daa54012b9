#pragma once
// A plugin use's `with:` settings checked against the plugin's settings schema (the part of JSON
// Schema <fab_plugin.h> describes: property types, enum, minimum/maximum, required,
// additionalProperties: false) before anything runs, every error at the blueprint's file:line:col:
// an unknown key (with "did you mean"), a value of another type (`union: "yes"` is a string, not a
// boolean), a missing required key (`llm` without `endpoint`), a value out of range.
#include <string>

#include <nlohmann/json.hpp>

#include "blueprints/blueprint.h"
#include "substrate/error.h"

namespace fab {

// `schema` is the plugin's (parsed); `plugin` names it in messages; `source_path` (the blueprint's
// file) locates a missing key of a use with neither `with:` nor `plugin:` (a default). The first
// error in document order (keys present first, then the required keys missing). A schema part fab
// cannot read is an error blaming the plugin.
Status check_plugin_settings(const PluginUse& use, const nlohmann::json& schema, const std::string& plugin,
                             const std::string& source_path);

// "command (string, required): the command that builds the item", one line per key: what the
// schema accepts, for hints and `fab plugins check`.
std::string describe_settings(const nlohmann::json& schema);

}  // namespace fab
