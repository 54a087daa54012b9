#pragma once
// Converting a YAML value (plugin settings, `with:`) to JSON faithfully: mappings, sequences,
// strings, integers, floats, booleans and null, resolved by the YAML 1.2 core schema.
#include <string_view>

#include <nlohmann/json.hpp>
#include <yaml-cpp/node/node.h>

#include "substrate/error.h"

namespace fab {

// Plain scalars resolve to null/bool/int/float where they spell one; quoted or `!!str` scalars stay
// strings. Fails (naming source_name:line:col) on non-scalar or duplicate mapping keys.
Result<nlohmann::json> yaml_to_json(const YAML::Node& node, std::string_view source_name);

// The JSON value a single scalar resolves to (see above); `tag` is YAML::Node::Tag().
nlohmann::json resolve_yaml_scalar(std::string_view text, std::string_view tag);

}  // namespace fab
