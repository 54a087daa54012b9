// A `with:` block checked against a plugin's settings schema, errors at the blueprint's file:line:col.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "blueprints/blueprint.h"
#include "blueprints/settings_check.h"

namespace {

using nlohmann::json;

const json kSettingsSchema = json::parse(R"({
  "type": "object", "additionalProperties": false, "required": ["endpoint"],
  "properties": {
    "endpoint": {"type": "string", "description": "where to send requests"},
    "retries": {"type": "integer", "minimum": 0, "maximum": 5},
    "union": {"type": "boolean"},
    "style": {"enum": ["terse", "chatty"]},
    "tags": {"type": ["array", "null"]}
  }})");

fab::PluginUse settings_use(const std::string& with_yaml) {
  auto bp = fab::parse_blueprint("name: x\nagent:\n  plugin: p\n" + with_yaml, "bp.yaml");
  REQUIRE(bp);
  return bp->agent;
}

fab::Error settings_error(const std::string& with_yaml, const json& schema = kSettingsSchema) {
  auto r = fab::check_plugin_settings(settings_use(with_yaml), schema, "p", "bp.yaml");
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

TEST_CASE("settings the schema accepts pass", "[settings]") {
  CHECK(fab::check_plugin_settings(settings_use("  with: { endpoint: e, retries: 5, union: false, style: terse, tags: ~ }\n"),
                                   kSettingsSchema, "p", "bp.yaml"));
  CHECK(fab::check_plugin_settings(settings_use("  with: { endpoint: e, tags: [a, b], retries: 2.0 }\n"), kSettingsSchema, "p",
                                   "bp.yaml"));
}

TEST_CASE("each wrong setting is located and explained", "[settings]") {
  auto unknown = settings_error("  with:\n    endpoint: e\n    retires: 3\n");
  CHECK(unknown.message == "bp.yaml:6:5: unknown setting 'retires' in 'agent.with' (plugin 'p')");
  CHECK(unknown.hint == "did you mean 'retries'? (plugin 'p' takes: endpoint, retries, style, tags, union)");

  auto far = settings_error("  with: { endpoint: e, zzzzzz: 1 }\n");
  CHECK(far.hint == "plugin 'p' takes: endpoint, retries, style, tags, union");

  auto type = settings_error("  with: { endpoint: 3 }\n");
  CHECK(type.message == "bp.yaml:4:21: 'agent.with.endpoint' must be a string, got the number 3");
  CHECK(type.hint == "quote it to make it a string: endpoint: \"3\"");

  auto boolean = settings_error("  with: { endpoint: e, union: \"yes\" }\n");
  CHECK(boolean.message == "bp.yaml:4:31: 'agent.with.union' must be a boolean (true or false), got the string 'yes'");

  auto either = settings_error("  with: { endpoint: e, tags: x }\n");
  CHECK(either.message == "bp.yaml:4:30: 'agent.with.tags' must be a list or null, got the string 'x'");

  auto range = settings_error("  with: { endpoint: e, retries: 9 }\n");
  CHECK(range.message == "bp.yaml:4:33: 'agent.with.retries' must be at most 5, got 9");
  auto negative = settings_error("  with: { endpoint: e, retries: -1 }\n");
  CHECK(negative.message == "bp.yaml:4:33: 'agent.with.retries' must be at least 0, got -1");

  auto choice = settings_error("  with: { endpoint: e, style: chaty }\n");
  CHECK(choice.message == "bp.yaml:4:31: 'agent.with.style' must be one of 'terse', 'chatty', got the string 'chaty'");
  CHECK(choice.hint == "did you mean 'chatty'?");

  auto missing = settings_error("  with: { retries: 1 }\n");
  CHECK(missing.message == "bp.yaml:4:3: 'agent.with' is missing 'endpoint', which plugin 'p' requires");
  CHECK(missing.hint == "add it: with: { endpoint: \"...\" } (where to send requests)");
}

TEST_CASE("the first wrong key in document order is the one reported", "[settings]") {
  auto e = settings_error("  with:\n    union: 1\n    endpoint: 2\n");
  CHECK(e.message.rfind("bp.yaml:5:12: 'agent.with.union'", 0) == 0);
}

TEST_CASE("without additionalProperties: false, other keys are the plugin's business", "[settings]") {
  auto open = kSettingsSchema;
  open.erase("additionalProperties");
  CHECK(fab::check_plugin_settings(settings_use("  with: { endpoint: e, anything: 1 }\n"), open, "p", "bp.yaml"));
}

TEST_CASE("a schema part fab cannot read blames the plugin", "[settings]") {
  for (const char* bad : {R"({"properties": []})", R"({"properties": {"a": 3}})",
                          R"({"properties": {"a": {"type": "strin"}}})", R"({"properties": {"a": {"enum": []}}})",
                          R"({"properties": {"a": {"minimum": "0"}}})"}) {
    INFO(bad);
    auto e = settings_error("  with: { a: 1 }\n", json::parse(bad));
    CHECK(e.message.rfind("plugin 'p' has a settings schema fab cannot use: ", 0) == 0);
    CHECK(e.hint.find("the plugin's fault") != std::string::npos);
  }
}

TEST_CASE("describe_settings lists each key with its type", "[settings]") {
  CHECK(fab::describe_settings(kSettingsSchema) ==
        "endpoint (string, required): where to send requests\nretries (integer)\nstyle (one of [\"terse\",\"chatty\"])\n"
        "tags (array or null)\nunion (boolean)\n");
}
