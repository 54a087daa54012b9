#include "blueprints/yaml_to_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>
#include <string>

#include <yaml-cpp/yaml.h>

#include "blueprints/yaml_location.h"

namespace fab {
namespace {

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) {
      return true;
    }
  }
  return false;
}

std::optional<nlohmann::json> resolve_integer(std::string_view text) {
  static const std::regex decimal("[-+]?[0-9]+");
  static const std::regex octal("0o[0-7]+");
  static const std::regex hex("0x[0-9a-fA-F]+");
  const std::string s(text);
  int base = 10;
  std::string_view digits = text;
  if (std::regex_match(s, octal)) {
    base = 8;
    digits.remove_prefix(2);
  } else if (std::regex_match(s, hex)) {
    base = 16;
    digits.remove_prefix(2);
  } else if (!std::regex_match(s, decimal)) {
    return std::nullopt;
  }
  if (!digits.empty() && digits.front() == '+') {
    digits.remove_prefix(1);
  }
  std::int64_t signed_value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), signed_value, base);
  if (ec == std::errc() && end == digits.data() + digits.size()) {
    return nlohmann::json(signed_value);
  }
  std::uint64_t unsigned_value = 0;
  auto [uend, uec] = std::from_chars(digits.data(), digits.data() + digits.size(), unsigned_value, base);
  if (uec == std::errc() && uend == digits.data() + digits.size()) {
    return nlohmann::json(unsigned_value);
  }
  // Too big for 64 bits: keep the magnitude as a float rather than lose it.
  return nlohmann::json(std::strtod(s.c_str(), nullptr));
}

std::optional<nlohmann::json> resolve_float(std::string_view text) {
  static const std::regex number("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  const std::string s(text);
  if (is_one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return nlohmann::json(std::numeric_limits<double>::infinity());
  }
  if (is_one_of(text, {"-.inf", "-.Inf", "-.INF"})) {
    return nlohmann::json(-std::numeric_limits<double>::infinity());
  }
  if (is_one_of(text, {".nan", ".NaN", ".NAN"})) {
    return nlohmann::json(std::numeric_limits<double>::quiet_NaN());
  }
  if (std::regex_match(s, number)) {
    return nlohmann::json(std::strtod(s.c_str(), nullptr));
  }
  return std::nullopt;
}

}  // namespace

nlohmann::json resolve_yaml_scalar(std::string_view text, std::string_view tag) {
  if (tag != "?") {
    return nlohmann::json(std::string(text));  // quoted ("!") or explicitly tagged: a string
  }
  if (is_one_of(text, {"", "~", "null", "Null", "NULL"})) {
    return nullptr;
  }
  if (is_one_of(text, {"true", "True", "TRUE"})) {
    return true;
  }
  if (is_one_of(text, {"false", "False", "FALSE"})) {
    return false;
  }
  if (auto i = resolve_integer(text)) {
    return *i;
  }
  if (auto f = resolve_float(text)) {
    return *f;
  }
  return nlohmann::json(std::string(text));
}

Result<nlohmann::json> yaml_to_json(const YAML::Node& node, std::string_view source_name) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nlohmann::json(nullptr);
    case YAML::NodeType::Scalar:
      return resolve_yaml_scalar(node.Scalar(), node.Tag());
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) {
        FAB_TRY_ASSIGN(auto value, yaml_to_json(item, source_name));
        out.push_back(std::move(value));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
        if (!key.IsScalar()) {
          return fail(yaml_location(source_name, key.Mark()) + ": mapping keys must be plain strings",
                      "settings are a map of names to values, e.g. `with: { command: make test }`");
        }
        if (out.contains(key.Scalar())) {
          return fail(yaml_location(source_name, key.Mark()) + ": duplicate key '" + key.Scalar() + "'",
                      "each key may appear once in a mapping; remove one of them");
        }
        FAB_TRY_ASSIGN(auto value, yaml_to_json(YAML::Node(it->second), source_name));
        out[key.Scalar()] = std::move(value);
      }
      return out;
    }
  }
  return fail_internal("unknown YAML node type");
}

}  // namespace fab
