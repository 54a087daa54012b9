#pragma once
// A blueprint: the YAML file that sets up a factory run (which agent builds items, which inspectors
// check them, how conflicts are refined, how many build at once). Parsing validates it completely;
// every error names file:line:col.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "blueprints/decompose.h"
#include "substrate/error.h"

namespace fab {

// Where one key of a `with:` block is: "bp.yaml:6:12" for the key and for its value.
struct SettingAt {
  std::string key;
  std::string key_at;
  std::string value_at;
};

// One use of a plugin: its name (or a path to a .so), a per-attempt timeout, and its settings.
struct PluginUse {
  std::string plugin;
  int timeout_s = 600;
  nlohmann::json with = nlohmann::json::object();  // the YAML `with:` map, passed through as-is
  std::string key_path;   // where it is in the blueprint: "agent", "inspect[0]", "refine[1]"
  std::string plugin_at;  // "bp.yaml:5:3", the `plugin:` key's location; empty for a default
  std::string with_at;    // the `with:` key's location; empty when there is none
  std::vector<SettingAt> with_keys;  // the keys of `with:`, in document order
};

struct Blueprint {
  std::string name;              // [a-z0-9-]+
  std::string trunk = "main";    // bookmark merged work lands on
  bool trunk_given = false;      // false: `trunk:` was left out (stamping uses the factory's trunk)
  int slots = 2;                 // items building at once, >= 1
  int rework_limit = 5;          // failed attempts before an item is dropped, >= 1
  Decompose decompose = Decompose::headings;
  PluginUse agent;
  std::vector<PluginUse> inspect;  // run in order, all must pass
  std::vector<PluginUse> refine;   // conflict resolvers in order; default: [deterministic]
  std::string source_path;         // the file (or source name) it was parsed from
  std::string source_text;         // the YAML as read
};

// Parses and validates blueprint YAML (which must be UTF-8). `source_name` prefixes error locations
// ("bp.yaml:4:3: ...").
// Returns the first error in document order (missing required keys come after the keys present).
Result<Blueprint> parse_blueprint(std::string_view text, std::string source_name);

// Reads `path` and parses it; errors are located by the path as given.
Result<Blueprint> parse_blueprint_file(const std::filesystem::path& path);

// The blueprint as JSON for `--json` output (everything but source_text).
nlohmann::json to_json(const Blueprint& blueprint);
nlohmann::json to_json(const PluginUse& use);

}  // namespace fab
