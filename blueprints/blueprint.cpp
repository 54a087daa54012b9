#include "blueprints/blueprint.h"

#include <climits>
#include <functional>
#include <set>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "blueprints/did_you_mean.h"
#include "blueprints/text_file.h"
#include "blueprints/yaml_location.h"
#include "blueprints/yaml_to_json.h"

namespace fab {
namespace {

const char* const kMinimalExample =
    "a minimal blueprint is:\n  name: my-run\n  agent:\n    plugin: shell\n    with: { command: ./agent.sh }";

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

bool valid_name(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string name_suggestion(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') {
    out.pop_back();
  }
  return out.empty() ? "my-run" : out;
}

// One key a mapping may hold: its name, whether it must be there, an example for hints, and what
// to do with its value (given the key node, for locations, and the value node).
struct Field {
  std::string_view key;
  bool required = false;
  std::string example;
  std::function<Status(const YAML::Node& key, const YAML::Node& value)> apply;
};

class Validator {
 public:
  explicit Validator(std::string_view source) : m_source(source) {}

  std::string at(const YAML::Node& node) const { return yaml_location(m_source, node.Mark()); }

  // Checks that `map` is a mapping whose keys are all known fields, each at most once, with every
  // required field present, and applies each field in document order. `owner` is the key node
  // naming this mapping (null at the top level), `path` its dotted name for messages.
  Status walk_map(const YAML::Node& map, const YAML::Node* owner, const std::string& path,
                  const std::vector<Field>& fields) const {
    std::vector<std::string_view> names;
    for (const auto& f : fields) {
      names.push_back(f.key);
    }
    std::set<std::string, std::less<>> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;  // a copy: `it->` yields a temporary proxy
      if (!key.IsScalar()) {
        return fail(at(key) + ": keys must be plain names, got " + describe(key),
                    "valid keys" + in(path) + " are: " + join(names));
      }
      const std::string& k = key.Scalar();
      const Field* field = nullptr;
      for (const auto& f : fields) {
        if (f.key == k) {
          field = &f;
        }
      }
      if (field == nullptr) {
        std::string hint = did_you_mean(k, names);
        return fail(at(key) + ": unknown key '" + k + "'" + in(path),
                    hint.empty() ? "valid keys" + in(path) + " are: " + join(names) : hint);
      }
      if (!seen.insert(k).second) {
        return fail(at(key) + ": duplicate key '" + qualified(path, k) + "'", "each key may appear once; remove one of them");
      }
      FAB_TRY(field->apply(key, YAML::Node(it->second)));
    }
    for (const auto& f : fields) {
      if (f.required && !seen.contains(f.key)) {
        const std::string where = owner != nullptr ? at(*owner) : at(map);
        const std::string what = path.empty() ? "missing required key '" + std::string(f.key) + "'"
                                               : "'" + path + "' is missing required key '" + std::string(f.key) + "'";
        return fail(where + ": " + what, "add it, e.g. " + f.example);
      }
    }
    return {};
  }

  // A mapping value, or an error naming what it is instead.
  Status expect_map(const YAML::Node& key, const YAML::Node& value, const std::string& path,
                    const std::string& example) const {
    if (value.IsNull()) {
      return fail(at(key) + ": '" + path + "' has no value", "it is a mapping, e.g. " + example);
    }
    if (!value.IsMap()) {
      return fail(at(value) + ": '" + path + "' must be a mapping, got " + describe(value), "e.g. " + example);
    }
    return {};
  }

  Result<std::string> string_value(const YAML::Node& key, const YAML::Node& value, const std::string& path,
                                   const std::string& example) const {
    if (value.IsNull()) {
      return fail(at(key) + ": '" + path + "' has no value", "e.g. " + example);
    }
    if (!value.IsScalar()) {
      return fail(at(value) + ": '" + path + "' must be a string, got " + describe(value), "e.g. " + example);
    }
    if (value.Scalar().empty()) {
      return fail(at(value) + ": '" + path + "' must not be empty", "e.g. " + example);
    }
    return value.Scalar();
  }

  Result<int> int_value(const YAML::Node& key, const YAML::Node& value, const std::string& path, int minimum,
                        const std::string& example) const {
    if (value.IsNull()) {
      return fail(at(key) + ": '" + path + "' has no value", "e.g. " + example);
    }
    if (!value.IsScalar()) {
      return fail(at(value) + ": '" + path + "' must be an integer, got " + describe(value), "e.g. " + example);
    }
    const nlohmann::json resolved = resolve_yaml_scalar(value.Scalar(), value.Tag());
    if (!resolved.is_number_integer()) {
      std::string hint = "e.g. " + example;
      if (resolved.is_string() && resolve_yaml_scalar(value.Scalar(), "?").is_number_integer()) {
        hint = "write the number without quotes, e.g. " + example;
      }
      return fail(at(value) + ": '" + path + "' must be an integer, got " + describe(value), hint);
    }
    if (resolved.is_number_unsigned() ? resolved.get<std::uint64_t>() > static_cast<std::uint64_t>(INT_MAX)
                                      : resolved.get<std::int64_t>() > INT_MAX) {
      return fail(at(value) + ": '" + path + "' is too large, got " + value.Scalar(),
                  "it must be at most " + std::to_string(INT_MAX));
    }
    const std::int64_t n = resolved.get<std::int64_t>();
    if (n < minimum) {
      return fail(at(value) + ": '" + path + "' must be at least " + std::to_string(minimum) + ", got " + value.Scalar(),
                  "e.g. " + example);
    }
    return static_cast<int>(n);
  }

  Result<bool> bool_value(const YAML::Node& key, const YAML::Node& value, const std::string& path,
                          const std::string& example) const {
    if (value.IsNull()) {
      return fail(at(key) + ": '" + path + "' has no value", "e.g. " + example);
    }
    const nlohmann::json resolved = value.IsScalar() ? resolve_yaml_scalar(value.Scalar(), value.Tag()) : nullptr;
    if (!resolved.is_boolean()) {
      return fail(at(value) + ": '" + path + "' must be true or false, got " + describe(value), "e.g. " + example);
    }
    return resolved.get<bool>();
  }

  // A size in bytes: an integer, or a number with a unit (KiB, MiB, GiB; KB, MB, GB).
  Result<std::uint64_t> size_value(const YAML::Node& key, const YAML::Node& value, const std::string& path,
                                   const std::string& example) const {
    const std::string text = value.IsScalar() ? value.Scalar() : std::string{};
    std::size_t used = 0;
    unsigned long long n = 0;
    try {
      n = std::stoull(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    std::string unit = used > 0 ? text.substr(used) : std::string{};
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    static const std::vector<std::pair<std::string, std::uint64_t>> units = {
        {"", 1},           {"B", 1},           {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
        {"KB", 1000ull}, {"MB", 1000000ull}, {"GB", 1000000000ull}};
    for (const auto& [name, factor] : units) {
      if (used > 0 && text[0] != '-' && unit == name && n > 0) return static_cast<std::uint64_t>(n) * factor;
    }
    return fail(at(value.IsDefined() && !value.IsNull() ? value : key) + ": '" + path +
                    "' must be a size in bytes (a number, or one with KiB, MiB or GiB), got " + describe(value),
                "e.g. " + example);
  }

  // `env: [NAME, ...]`: environment variable names, each once.
  Result<std::vector<std::string>> env_list(const YAML::Node& key, const YAML::Node& value,
                                            const std::string& path) const {
    const std::string example = "env: [HOME, PATH, ANTHROPIC_API_KEY]";
    if (value.IsNull()) {
      return fail(at(key) + ": '" + path + "' has no value",
                  "list the variables the plugin gets, e.g. " + example + " (env: [] gives none)");
    }
    if (!value.IsSequence()) {
      return fail(at(value) + ": '" + path + "' must be a list of environment variable names, got " + describe(value),
                  "e.g. " + example);
    }
    std::vector<std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const YAML::Node item = value[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!item.IsScalar() || !valid_env_name(item.Scalar())) {
        return fail(at(item) + ": '" + item_path + "' must be an environment variable name, got " + describe(item),
                    "a name is letters, digits and '_', not starting with a digit, e.g. " + example);
      }
      for (const auto& earlier : names) {
        if (earlier == item.Scalar()) {
          return fail(at(item) + ": '" + item.Scalar() + "' is listed twice in '" + path + "'", "list it once");
        }
      }
      names.push_back(item.Scalar());
    }
    return names;
  }

  // `plugin`, `timeout`, `with` (and for an agent or an inspector, `env` and `sandbox`): one use of
  // a plugin.
  Result<PluginUse> plugin_use(const YAML::Node& value, const YAML::Node* owner, const std::string& path,
                               const std::string& plugin_example, bool runs_in_workspace) const {
    PluginUse use;
    use.key_path = path;
    std::vector<Field> fields = {
        {"plugin", true, "plugin: " + plugin_example,
         [&](const YAML::Node& k, const YAML::Node& v) -> Status {
           FAB_TRY_ASSIGN(use.plugin, string_value(k, v, path + ".plugin", "plugin: " + plugin_example));
           use.plugin_at = at(k);
           return {};
         }},
        {"timeout", false, "timeout: 600",
         [&](const YAML::Node& k, const YAML::Node& v) -> Status {
           FAB_TRY_ASSIGN(use.timeout_s, int_value(k, v, path + ".timeout", 1, "timeout: 600 (seconds)"));
           return {};
         }},
        {"with", false, "with: { key: value }",
         [&](const YAML::Node& k, const YAML::Node& v) -> Status {
           use.with_at = at(k);
           if (v.IsNull()) {
             return {};
           }
           if (!v.IsMap()) {
             return fail(at(v) + ": '" + path + ".with' must be a mapping of plugin settings, got " + describe(v),
                         "e.g. with: { command: make test }");
           }
           FAB_TRY_ASSIGN(use.with, yaml_to_json(v, m_source));
           for (auto it = v.begin(); it != v.end(); ++it) {
             const YAML::Node key = it->first;
             const YAML::Node value = it->second;
             // (yaml_to_json refused non-scalar keys; a null value is located at its key.)
             use.with_keys.push_back({key.Scalar(), at(key), value.Mark().is_null() ? at(key) : at(value)});
           }
           return {};
         }},
    };
    if (runs_in_workspace) {
      fields.push_back({"env", false, "env: [HOME, PATH]", [&](const YAML::Node& k, const YAML::Node& v) -> Status {
                          FAB_TRY_ASSIGN(use.env, env_list(k, v, path + ".env"));
                          return {};
                        }});
      fields.push_back({"sandbox", false, "sandbox: true", [&](const YAML::Node& k, const YAML::Node& v) -> Status {
                          FAB_TRY_ASSIGN(use.sandbox, bool_value(k, v, path + ".sandbox", "sandbox: true"));
                          use.sandbox_at = at(k);
                          return {};
                        }});
    }
    FAB_TRY(walk_map(value, owner, path, fields));
    return use;
  }

  Result<std::vector<PluginUse>> plugin_list(const YAML::Node& value, const std::string& path,
                                             const std::string& plugin_example, bool runs_in_workspace) const {
    std::vector<PluginUse> out;
    const std::string example = path + ": [{ plugin: " + plugin_example + " }]";
    if (!value.IsSequence()) {
      return fail(at(value) + ": '" + path + "' must be a list of plugin uses, got " + describe(value),
                  "e.g. " + example);
    }
    for (std::size_t i = 0; i < value.size(); ++i) {
      const YAML::Node item = value[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!item.IsMap()) {
        return fail(at(item) + ": '" + item_path + "' must be a mapping with a 'plugin' key, got " + describe(item),
                    "e.g. - plugin: " + plugin_example);
      }
      FAB_TRY_ASSIGN(auto use, plugin_use(item, nullptr, item_path, plugin_example, runs_in_workspace));
      out.push_back(std::move(use));
    }
    return out;
  }

 private:
  static std::string in(const std::string& path) { return path.empty() ? "" : " in '" + path + "'"; }
  static std::string qualified(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string join(const std::vector<std::string_view>& names) {
    std::string out;
    for (auto n : names) {
      out += (out.empty() ? "" : ", ") + std::string(n);
    }
    return out;
  }

  std::string_view m_source;
};

Result<Blueprint> validate(const YAML::Node& root, const Validator& v) {
  Blueprint bp;
  bool refine_given = false;
  const std::vector<Field> fields = {
      {"name", true, "name: add-feature",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.name, v.string_value(k, value, "name", "name: add-feature"));
         if (!valid_name(bp.name)) {
           return fail(v.at(value) + ": 'name' must match [a-z0-9-]+, got '" + bp.name + "'",
                       "use lowercase letters, digits and '-', e.g. name: " + name_suggestion(bp.name));
         }
         return {};
       }},
      {"trunk", false, "trunk: main",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.trunk, v.string_value(k, value, "trunk", "trunk: main"));
         bp.trunk_given = true;
         return {};
       }},
      {"slots", false, "slots: 2",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.slots, v.int_value(k, value, "slots", 1, "slots: 2"));
         bp.slots_given = true;
         return {};
       }},
      {"rework", false, "rework: continue",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(auto text, v.string_value(k, value, "rework", "rework: continue"));
         if (text == "continue") {
           bp.rework = Blueprint::Rework::continue_change;
         } else if (text == "restart") {
           bp.rework = Blueprint::Rework::restart;
         } else {
           const std::vector<std::string_view> modes = {"continue", "restart"};
           std::string hint = did_you_mean(text, modes);
           if (hint.empty()) {
             hint = "continue: the next attempt starts from the item's change rebased onto trunk; restart: from a "
                    "clean trunk, in the same change";
           }
           return fail(v.at(value) + ": 'rework' must be 'continue' or 'restart', got '" + text + "'", hint);
         }
         return {};
       }},
      {"max_file_size", false, "max_file_size: 10MiB",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.max_file_size, v.size_value(k, value, "max_file_size", "max_file_size: 10MiB"));
         return {};
       }},
      {"allow_empty", false, "allow_empty: true",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.allow_empty, v.bool_value(k, value, "allow_empty", "allow_empty: true"));
         return {};
       }},
      {"rework_limit", false, "rework_limit: 5",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(bp.rework_limit, v.int_value(k, value, "rework_limit", 1, "rework_limit: 5"));
         return {};
       }},
      {"decompose", false, "decompose: headings",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY_ASSIGN(auto text, v.string_value(k, value, "decompose", "decompose: headings"));
         if (auto d = decompose_from_string(text)) {
           bp.decompose = *d;
           return {};
         }
         const std::vector<std::string_view> modes = {"headings", "checklist"};
         std::string hint = did_you_mean(text, modes);
         if (hint.empty()) {
           hint = "headings: each '## Title' is one item; checklist: each '- [ ] text' is one item";
         }
         return fail(v.at(value) + ": 'decompose' must be 'headings' or 'checklist', got '" + text + "'", hint);
       }},
      {"agent", true, "agent: { plugin: shell, with: { command: ./agent.sh } }",
       [&](const YAML::Node& k, const YAML::Node& value) -> Status {
         FAB_TRY(v.expect_map(k, value, "agent", "agent: { plugin: shell, with: { command: ./agent.sh } }"));
         FAB_TRY_ASSIGN(bp.agent, v.plugin_use(value, &k, "agent", "shell", true));
         return {};
       }},
      {"inspect", false, "inspect: [{ plugin: command, with: { command: make test } }]",
       [&](const YAML::Node&, const YAML::Node& value) -> Status {
         if (value.IsNull()) {
           return {};
         }
         FAB_TRY_ASSIGN(bp.inspect, v.plugin_list(value, "inspect", "command", true));
         return {};
       }},
      {"refine", false, "refine: [{ plugin: deterministic }]",
       [&](const YAML::Node&, const YAML::Node& value) -> Status {
         if (value.IsNull()) {
           return {};
         }
         refine_given = true;
         FAB_TRY_ASSIGN(bp.refine, v.plugin_list(value, "refine", "deterministic", false));
         return {};
       }},
  };
  FAB_TRY(v.walk_map(root, nullptr, "", fields));
  if (!refine_given) {
    bp.refine = {PluginUse{.plugin = "deterministic", .key_path = "refine[0]"}};
  }
  return bp;
}

}  // namespace

int default_slots() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Result<Blueprint> parse_blueprint(std::string_view text, std::string source_name) {
  FAB_TRY(check_utf8(text, source_name));  // yaml-cpp passes bad bytes through without a word
  const Validator v(source_name);
  Result<Blueprint> parsed;
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.empty() || docs.front().IsNull()) {
      return fail(source_name + ":1:1: blueprint is empty", kMinimalExample);
    }
    if (docs.size() > 1) {
      return fail(v.at(docs[1]) + ": blueprint has more than one YAML document",
                  "a blueprint is a single mapping; remove the '---' separator and what follows it");
    }
    const YAML::Node& root = docs.front();
    if (!root.IsMap()) {
      return fail(v.at(root) + ": a blueprint must be a mapping of keys, got " + describe(root), kMinimalExample);
    }
    parsed = validate(root, v);
  } catch (const YAML::Exception& e) {
    return fail(yaml_location(source_name, e.mark) + ": malformed YAML: " + e.msg,
                "check the indentation (spaces, not tabs), brackets and quoting near that spot");
  } catch (const std::exception& e) {
    return fail_internal(source_name + ": unexpected error while reading the blueprint: " + e.what());
  }
  if (parsed) {
    parsed->source_path = std::move(source_name);
    parsed->source_text = std::string(text);
  }
  return parsed;
}

Result<Blueprint> parse_blueprint_file(const std::filesystem::path& path) {
  FAB_TRY_ASSIGN(auto text, read_text_file(path));
  return parse_blueprint(text, path.string());
}

std::vector<std::string> secret_env_names(const Blueprint& blueprint) {
  std::set<std::string> names;
  for (const auto& use : blueprint.refine) {
    if (auto it = use.with.find("api_key_env"); it != use.with.end() && it->is_string() && !it->get<std::string>().empty()) {
      names.insert(it->get<std::string>());
    }
  }
  return {names.begin(), names.end()};
}

nlohmann::json to_json(const PluginUse& use) {
  nlohmann::json j = {{"plugin", use.plugin}, {"timeout", use.timeout_s}, {"with", use.with}};
  if (use.env) {
    j["env"] = *use.env;
  }
  if (use.sandbox) {
    j["sandbox"] = true;
  }
  return j;
}

nlohmann::json to_json(const Blueprint& bp) {
  nlohmann::json inspect = nlohmann::json::array();
  for (const auto& use : bp.inspect) {
    inspect.push_back(to_json(use));
  }
  nlohmann::json refine = nlohmann::json::array();
  for (const auto& use : bp.refine) {
    refine.push_back(to_json(use));
  }
  return {{"name", bp.name},
          {"trunk", bp.trunk},
          {"slots", bp.slots},
          {"rework_limit", bp.rework_limit},
          {"rework", bp.rework == Blueprint::Rework::restart ? "restart" : "continue"},
          {"max_file_size", bp.max_file_size},
          {"allow_empty", bp.allow_empty},
          {"decompose", std::string(to_string(bp.decompose))},
          {"agent", to_json(bp.agent)},
          {"inspect", std::move(inspect)},
          {"refine", std::move(refine)},
          {"source_path", bp.source_path}};
}

}  // namespace fab
