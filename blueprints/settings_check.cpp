#include "blueprints/settings_check.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "blueprints/did_you_mean.h"

namespace fab {
namespace {

using json = nlohmann::json;

constexpr std::string_view kTypes[] = {"string", "boolean", "integer", "number", "array", "object", "null"};

// "the string 'yes'", "the number 3", "true", "a list", ...
std::string describe_value(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return fmt::format("the string '{}'", v.get<std::string>());
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "a mapping";
    case json::value_t::null: return "nothing";
    default: return "the number " + v.dump();
  }
}

std::string a_type(std::string_view type) {
  if (type == "string") return "a string";
  if (type == "boolean") return "a boolean (true or false)";
  if (type == "integer") return "an integer";
  if (type == "number") return "a number";
  if (type == "array") return "a list";
  if (type == "object") return "a mapping";
  return "null";
}

bool has_type(const json& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  if (type == "number") return v.is_number();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return v.is_null();
}

// An example value of `type` for hints.
std::string example_of(std::string_view type) {
  if (type == "boolean") return "true";
  if (type == "integer") return "1";
  if (type == "number") return "1.5";
  if (type == "array") return "[]";
  if (type == "object") return "{}";
  return "\"...\"";
}

// One property of the schema, read defensively (the plugin wrote it).
struct Property {
  std::string name;
  std::vector<std::string> types;  // empty: any
  std::string description;
  const json* enumeration = nullptr;
  const json* minimum = nullptr;  // numbers
  const json* maximum = nullptr;
};

Result<std::vector<Property>> properties_of(const json& schema, const std::string& plugin) {
  auto bad = [&](const std::string& what) {
    return fail(Error(fmt::format("plugin '{}' has a settings schema fab cannot use: {}", plugin, what))
                    .with_hint("this is the plugin's fault, not the blueprint's; see \"Settings schema\" in "
                               "<fab_plugin.h> for what fab reads"));
  };
  std::vector<Property> out;
  auto props = schema.find("properties");
  if (props == schema.end()) return out;
  if (!props->is_object()) return bad("\"properties\" is not an object");
  for (const auto& [name, spec] : props->items()) {
    if (!spec.is_object()) return bad(fmt::format("properties.{} is not an object", name));
    Property p{name, {}, spec.value("description", std::string{}), nullptr, nullptr, nullptr};
    if (auto t = spec.find("type"); t != spec.end()) {
      const json list = t->is_array() ? *t : json::array({*t});
      for (const auto& one : list) {
        const bool known = one.is_string() && std::find(std::begin(kTypes), std::end(kTypes),
                                                        one.get<std::string>()) != std::end(kTypes);
        if (!known) return bad(fmt::format("properties.{}.type {} is not a JSON Schema type", name, one.dump()));
        p.types.push_back(one.get<std::string>());
      }
    }
    if (auto e = spec.find("enum"); e != spec.end()) {
      if (!e->is_array() || e->empty()) return bad(fmt::format("properties.{}.enum is not a non-empty list", name));
      p.enumeration = &*e;
    }
    for (auto [key, bound] : {std::pair{"minimum", &p.minimum}, std::pair{"maximum", &p.maximum}}) {
      if (auto m = spec.find(key); m != spec.end()) {
        if (!m->is_number()) return bad(fmt::format("properties.{}.{} is not a number", name, key));
        *bound = &*m;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string type_text(const Property& p) {
  if (p.types.empty()) return p.enumeration ? "one of " + p.enumeration->dump() : "any";
  std::string out;
  for (const auto& t : p.types) out += (out.empty() ? "" : " or ") + t;
  return out;
}

std::string names_of(const std::vector<Property>& props) {
  std::string out;
  for (const auto& p : props) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? "no settings" : out;
}

// "times: integer, at least 1 — how often": what a key takes, for hints.
std::string about(const std::string& key, const Property& p) {
  std::string out = key + ": " + type_text(p);
  if (p.minimum) out += ", at least " + p.minimum->dump();
  if (p.maximum) out += ", at most " + p.maximum->dump();
  return p.description.empty() ? out : out + " — " + p.description;
}

// What to say about a value of the wrong type, beyond "it must be X".
std::string type_hint(const std::string& key, const json& value, const Property& p) {
  const std::string& want = p.types.front();
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (want == "boolean" && (text == "yes" || text == "no" || text == "true" || text == "false" || text == "on" ||
                              text == "off")) {
      return fmt::format("write {}: true or {}: false, without quotes", key, key);
    }
    if ((want == "integer" || want == "number") && !text.empty() &&
        text.find_first_not_of("0123456789.-+eE") == std::string::npos) {
      return fmt::format("write the number without quotes: {}: {}", key, text);
    }
  }
  if (want == "string" && (value.is_number() || value.is_boolean())) {
    return fmt::format("quote it to make it a string: {}: \"{}\"", key, value.dump());
  }
  return about(key, p);
}

Status check_value(const SettingAt& at, const json& value, const Property& p, const std::string& where) {
  const std::string what = fmt::format("{}: '{}'", at.value_at, where + "." + at.key);
  if (!p.types.empty()) {
    bool ok = false;
    for (const auto& t : p.types) ok = ok || has_type(value, t);
    if (!ok) {
      std::string types;
      for (const auto& t : p.types) types += (types.empty() ? "" : " or ") + a_type(t);
      return fail(fmt::format("{} must be {}, got {}", what, types, describe_value(value)),
                  type_hint(at.key, value, p));
    }
  }
  if (p.enumeration) {
    bool ok = false;
    std::vector<std::string> texts;
    for (const auto& option : *p.enumeration) {
      ok = ok || option == value;
      texts.push_back(option.is_string() ? option.get<std::string>() : option.dump());
    }
    if (!ok) {
      std::vector<std::string_view> views(texts.begin(), texts.end());
      std::string hint = value.is_string() ? did_you_mean(value.get<std::string>(), views) : std::string{};
      std::string list;
      for (const auto& t : texts) list += (list.empty() ? "'" : ", '") + t + "'";
      return fail(fmt::format("{} must be one of {}, got {}", what, list, describe_value(value)),
                  hint.empty() ? about(at.key, p) : hint);
    }
  }
  if (value.is_number()) {
    const double n = value.get<double>();
    if (p.minimum && n < p.minimum->get<double>()) {
      return fail(fmt::format("{} must be at least {}, got {}", what, p.minimum->dump(), value.dump()), about(at.key, p));
    }
    if (p.maximum && n > p.maximum->get<double>()) {
      return fail(fmt::format("{} must be at most {}, got {}", what, p.maximum->dump(), value.dump()), about(at.key, p));
    }
  }
  return {};
}

}  // namespace

Status check_plugin_settings(const PluginUse& use, const json& schema, const std::string& plugin,
                             const std::string& source_path) {
  if (!schema.is_object()) return {};
  FAB_TRY_ASSIGN(auto props, properties_of(schema, plugin));
  const std::string where = use.key_path + ".with";
  const bool closed = schema.value("additionalProperties", json(true)) == json(false);
  std::vector<std::string_view> names;
  for (const auto& p : props) names.push_back(p.name);

  for (const auto& at : use.with_keys) {
    auto p = std::find_if(props.begin(), props.end(), [&](const Property& x) { return x.name == at.key; });
    if (p == props.end()) {
      if (!closed) continue;
      const std::string takes = fmt::format("plugin '{}' takes: {}", plugin, names_of(props));
      const std::string guess = did_you_mean(at.key, names);
      return fail(fmt::format("{}: unknown setting '{}' in '{}' (plugin '{}')", at.key_at, at.key, where, plugin),
                  guess.empty() ? takes : guess + " (" + takes + ")");
    }
    FAB_TRY(check_value(at, use.with.at(at.key), *p, where));
  }

  if (auto required = schema.find("required"); required != schema.end() && required->is_array()) {
    for (const auto& r : *required) {
      if (!r.is_string()) continue;
      const std::string key = r.get<std::string>();
      if (use.with.contains(key)) continue;
      const std::string location = !use.with_at.empty() ? use.with_at : !use.plugin_at.empty() ? use.plugin_at : source_path;
      auto p = std::find_if(props.begin(), props.end(), [&](const Property& x) { return x.name == key; });
      const std::string example = p != props.end() && !p->types.empty() ? example_of(p->types.front()) : "\"...\"";
      const std::string about = p != props.end() && !p->description.empty() ? " (" + p->description + ")" : "";
      return fail(fmt::format("{}: '{}' is missing '{}', which plugin '{}' requires", location,
                              use.with_at.empty() ? use.key_path : where, key, plugin),
                  fmt::format("add it: with: {{ {}: {} }}{}", key, example, about));
    }
  }
  return {};
}

std::string describe_settings(const json& schema) {
  auto props = properties_of(schema, "?");
  if (!props) return {};
  std::vector<std::string> required;
  if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
    for (const auto& k : *r) {
      if (k.is_string()) required.push_back(k.get<std::string>());
    }
  }
  std::string out;
  for (const auto& p : *props) {
    const bool req = std::find(required.begin(), required.end(), p.name) != required.end();
    out += fmt::format("{} ({}{}){}\n", p.name, type_text(p), req ? ", required" : "",
                       p.description.empty() ? "" : ": " + p.description);
  }
  return out;
}

}  // namespace fab
