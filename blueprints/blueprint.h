#pragma once
// A blueprint: the YAML file that sets up a factory run (which agent builds items, which inspectors
// check them, how conflicts are refined, how many build at once). Parsing validates it completely;
// every error names file:line:col.
#include <cstdint>
#include <filesystem>
#include <optional>
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
// The machine's cores (at least 1): the default for `slots`.
int default_slots();

struct PluginUse {
  std::string plugin;
  int timeout_s = 600;
  nlohmann::json with = nlohmann::json::object();  // the YAML `with:` map, passed through as-is
  std::string key_path;   // where it is in the blueprint: "agent", "inspect[0]", "refine[1]"
  std::string plugin_at;  // "bp.yaml:5:3", the `plugin:` key's location; empty for a default
  // Agents and inspectors only:
  // `env: [HOME, PATH, ANTHROPIC_API_KEY]`: the only variables of fab's environment the plugin call
  // gets (nullopt: all but the line's secrets, see secret_env_names). A secret listed here is given.
  std::optional<std::vector<std::string>> env;
  bool sandbox = false;    // `sandbox: true`: the call runs under bubblewrap (plugins/host/sandbox.h)
  std::string sandbox_at;  // the `sandbox:` key's location; empty if not given
  std::string with_at;    // the `with:` key's location; empty when there is none
  std::vector<SettingAt> with_keys;  // the keys of `with:`, in document order
};

struct Blueprint {
  std::string name;              // [a-z0-9-]+
  std::string trunk = "main";    // bookmark merged work lands on
  bool trunk_given = false;      // false: `trunk:` was left out (stamping uses the factory's trunk)
  int slots = default_slots();   // its plugin calls (agents and inspectors) at once, >= 1
  bool slots_given = false;
  int rework_limit = 5;          // failed attempts before an item is dropped, >= 1
  // What the next attempt after a failure starts from: the item's change as it is, rebased onto
  // trunk (conflicts included), or a clean trunk in the same change.
  enum class Rework { continue_change, restart } rework = Rework::continue_change;
  // Files an agent writes that are bigger than this fail the attempt instead of being dropped by
  // jj's snapshot (jj's snapshot.max-new-file-size).
  std::uint64_t max_file_size = 10u << 20;
  bool allow_empty = false;      // an attempt that changed nothing may land (else it fails)
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

// The environment variables that hold the line's secrets: every `api_key_env` in `refine[].with`
// (the LLM resolver's key), sorted, once each. Agents and inspectors do not get them.
std::vector<std::string> secret_env_names(const Blueprint& blueprint);

// The blueprint as JSON for `--json` output (everything but source_text).
nlohmann::json to_json(const Blueprint& blueprint);
nlohmann::json to_json(const PluginUse& use);

}  // namespace fab
