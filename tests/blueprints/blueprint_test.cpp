#include <catch2/catch.hpp>

#include "blueprints/blueprint.h"
#include "blueprints/did_you_mean.h"
#include "blueprints/yaml_to_json.h"
#include "tests/support/temp_dir.h"

namespace {

const char* const kFull = R"(name: add-feature
trunk: develop
slots: 4
rework_limit: 3
decompose: checklist
agent:
  plugin: shell
  timeout: 900
  with: { command: ./agent.sh }
inspect:
  - plugin: command
    with: { command: make test }
  - plugin: ./plugins/lint.so
    timeout: 60
refine:
  - plugin: deterministic
    with: { union: true }
  - plugin: llm
    with: { endpoint: "http://127.0.0.1:8080/v1", model: m, api_key_env: OPENAI_API_KEY }
)";

// The error from parsing `text` as "bp.yaml"; fails the test if it parsed.
fab::Error error_of(const std::string& text) {
  auto r = fab::parse_blueprint(text, "bp.yaml");
  REQUIRE_FALSE(r);
  return r.error();
}

}  // namespace

TEST_CASE("a full blueprint parses into every field", "[blueprint]") {
  auto r = fab::parse_blueprint(kFull, "bp.yaml");
  REQUIRE(r);
  const fab::Blueprint& bp = *r;
  CHECK(bp.name == "add-feature");
  CHECK(bp.trunk == "develop");
  CHECK(bp.slots == 4);
  CHECK(bp.rework_limit == 3);
  CHECK(bp.decompose == fab::Decompose::checklist);
  CHECK(bp.agent.plugin == "shell");
  CHECK(bp.agent.timeout_s == 900);
  CHECK(bp.agent.with == nlohmann::json{{"command", "./agent.sh"}});
  REQUIRE(bp.inspect.size() == 2);
  CHECK(bp.inspect[0].plugin == "command");
  CHECK(bp.inspect[0].timeout_s == 600);
  CHECK(bp.inspect[0].with == nlohmann::json{{"command", "make test"}});
  CHECK(bp.inspect[1].plugin == "./plugins/lint.so");
  CHECK(bp.inspect[1].timeout_s == 60);
  CHECK(bp.inspect[1].with == nlohmann::json::object());
  REQUIRE(bp.refine.size() == 2);
  CHECK(bp.refine[0].plugin == "deterministic");
  CHECK(bp.refine[0].with == nlohmann::json{{"union", true}});
  CHECK(bp.refine[1].plugin == "llm");
  CHECK(bp.refine[1].with == nlohmann::json{{"endpoint", "http://127.0.0.1:8080/v1"},
                                            {"model", "m"},
                                            {"api_key_env", "OPENAI_API_KEY"}});
  CHECK(bp.source_path == "bp.yaml");
  CHECK(bp.source_text == kFull);
}

TEST_CASE("a minimal blueprint gets the defaults", "[blueprint]") {
  auto r = fab::parse_blueprint("name: x\nagent:\n  plugin: shell\n", "bp.yaml");
  REQUIRE(r);
  CHECK(r->name == "x");
  CHECK(r->trunk == "main");
  CHECK(r->slots == 2);
  CHECK(r->rework_limit == 5);
  CHECK(r->decompose == fab::Decompose::headings);
  CHECK(r->agent.plugin == "shell");
  CHECK(r->agent.timeout_s == 600);
  CHECK(r->agent.with == nlohmann::json::object());
  CHECK(r->inspect.empty());
  REQUIRE(r->refine.size() == 1);
  CHECK(r->refine[0].plugin == "deterministic");
  CHECK(r->refine[0].timeout_s == 600);
  CHECK(r->refine[0].with == nlohmann::json::object());
}

TEST_CASE("each plugin use knows where the blueprint names it", "[blueprint]") {
  auto r = fab::parse_blueprint(kFull, "bp.yaml");
  REQUIRE(r);
  CHECK(r->agent.key_path == "agent");
  CHECK(r->agent.plugin_at == "bp.yaml:7:3");
  REQUIRE(r->inspect.size() == 2);
  CHECK(r->inspect[1].key_path == "inspect[1]");
  CHECK(r->inspect[1].plugin_at == "bp.yaml:13:5");
  REQUIRE(r->refine.size() == 2);
  CHECK(r->refine[1].key_path == "refine[1]");
  CHECK(r->refine[1].plugin_at == "bp.yaml:18:5");
  // The default resolver is named nowhere in the file.
  auto minimal = fab::parse_blueprint("name: x\nagent: {plugin: shell}\n", "bp.yaml");
  REQUIRE(minimal);
  CHECK(minimal->agent.plugin_at == "bp.yaml:2:9");
  CHECK(minimal->refine.at(0).key_path == "refine[0]");
  CHECK(minimal->refine.at(0).plugin_at.empty());
}

TEST_CASE("an explicitly empty refine list stays empty and a null one gets the default", "[blueprint]") {
  auto empty = fab::parse_blueprint("name: x\nagent: {plugin: shell}\nrefine: []\ninspect: []\n", "bp.yaml");
  REQUIRE(empty);
  CHECK(empty->refine.empty());
  CHECK(empty->inspect.empty());
  auto null = fab::parse_blueprint("name: x\nagent: {plugin: shell}\nrefine:\ninspect:\n", "bp.yaml");
  REQUIRE(null);
  REQUIRE(null->refine.size() == 1);
  CHECK(null->refine[0].plugin == "deterministic");
}

TEST_CASE("plugin settings pass through as JSON with their YAML types", "[blueprint]") {
  auto r = fab::parse_blueprint(R"(name: x
agent:
  plugin: shell
  with:
    command: ./agent.sh
    quoted_number: "42"
    count: 42
    negative: -7
    hex: 0x1f
    ratio: 0.25
    exp: 1e3
    yes: true
    no: False
    nothing: ~
    empty:
    tagged: !!str 5
    list: [a, 1, 2.5, null, [nested]]
    map: { inner: { deep: 1 } }
    block:
      - one
      - two: 2
    text: |
      line one
      line two
)",
                                "bp.yaml");
  REQUIRE(r);
  const nlohmann::json expected = {
      {"command", "./agent.sh"},
      {"quoted_number", "42"},
      {"count", 42},
      {"negative", -7},
      {"hex", 31},
      {"ratio", 0.25},
      {"exp", 1000.0},
      {"yes", true},
      {"no", false},
      {"nothing", nullptr},
      {"empty", nullptr},
      {"tagged", "5"},
      {"list", {"a", 1, 2.5, nullptr, {"nested"}}},
      {"map", {{"inner", {{"deep", 1}}}}},
      {"block", {"one", {{"two", 2}}}},
      {"text", "line one\nline two\n"},
  };
  CHECK(r->agent.with == expected);
  CHECK(r->agent.with["count"].is_number_integer());
  CHECK(r->agent.with["ratio"].is_number_float());
  // Key order of the source is irrelevant to JSON objects, but every key must be there.
  CHECK(r->agent.with.size() == expected.size());
}

TEST_CASE("to_json reports the blueprint for --json", "[blueprint]") {
  auto r = fab::parse_blueprint(kFull, "bp.yaml");
  REQUIRE(r);
  const nlohmann::json j = fab::to_json(*r);
  CHECK(j["name"] == "add-feature");
  CHECK(j["trunk"] == "develop");
  CHECK(j["slots"] == 4);
  CHECK(j["rework_limit"] == 3);
  CHECK(j["decompose"] == "checklist");
  CHECK(j["agent"] == nlohmann::json{{"plugin", "shell"}, {"timeout", 900}, {"with", {{"command", "./agent.sh"}}}});
  CHECK(j["inspect"].size() == 2);
  CHECK(j["inspect"][1]["plugin"] == "./plugins/lint.so");
  CHECK(j["refine"][1]["with"]["model"] == "m");
  CHECK(j["source_path"] == "bp.yaml");
  CHECK_FALSE(j.contains("source_text"));
}

TEST_CASE("unknown keys are located and get a did-you-mean", "[blueprint][errors]") {
  SECTION("top level") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nslots: 2\nrework_limt: 5\n");
    CHECK(e.message == "bp.yaml:4:1: unknown key 'rework_limt'");
    CHECK(e.hint == "did you mean 'rework_limit'?");
  }
  SECTION("nested, indented") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  timout: 5\n");
    CHECK(e.message == "bp.yaml:4:3: unknown key 'timout' in 'agent'");
    CHECK(e.hint == "did you mean 'timeout'?");
  }
  SECTION("in a list item") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect:\n  - plugin: command\n    wiht: {}\n");
    CHECK(e.message == "bp.yaml:5:5: unknown key 'wiht' in 'inspect[0]'");
    CHECK(e.hint == "did you mean 'with'?");
  }
  SECTION("nothing close lists the valid keys") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ncolour: blue\n");
    CHECK(e.message == "bp.yaml:3:1: unknown key 'colour'");
    CHECK(e.hint == "valid keys are: name, trunk, slots, rework, max_file_size, allow_empty, rework_limit, decompose, "
                    "agent, inspect, refine");
  }
}

TEST_CASE("missing required keys are reported where they belong", "[blueprint][errors]") {
  SECTION("name") {
    auto e = error_of("agent: {plugin: shell}\n");
    CHECK(e.message == "bp.yaml:1:1: missing required key 'name'");
    CHECK(e.hint == "add it, e.g. name: add-feature");
  }
  SECTION("agent") {
    auto e = error_of("name: x\nslots: 3\n");
    CHECK(e.message == "bp.yaml:1:1: missing required key 'agent'");
  }
  SECTION("agent.plugin") {
    auto e = error_of("name: x\nslots: 3\nagent:\n  timeout: 5\n");
    CHECK(e.message == "bp.yaml:3:1: 'agent' is missing required key 'plugin'");
    CHECK(e.hint == "add it, e.g. plugin: shell");
  }
  SECTION("inspect[1].plugin") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect:\n  - plugin: command\n  - with: {a: 1}\n");
    CHECK(e.message == "bp.yaml:5:5: 'inspect[1]' is missing required key 'plugin'");
  }
  SECTION("agent with no value") {
    auto e = error_of("name: x\nagent:\nslots: 3\n");
    CHECK(e.message == "bp.yaml:2:1: 'agent' has no value");
  }
}

TEST_CASE("wrong types are located at the value", "[blueprint][errors]") {
  SECTION("slots: many") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nslots: many\n");
    CHECK(e.message == "bp.yaml:3:8: 'slots' must be an integer, got 'many'");
    CHECK(e.hint == "e.g. slots: 2");
  }
  SECTION("a quoted number") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nslots: \"4\"\n");
    CHECK(e.message == "bp.yaml:3:8: 'slots' must be an integer, got '4'");
    CHECK(e.hint == "write the number without quotes, e.g. slots: 2");
  }
  SECTION("a float") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nrework_limit: 2.5\n");
    CHECK(e.message == "bp.yaml:3:15: 'rework_limit' must be an integer, got '2.5'");
  }
  SECTION("a list where a string belongs") {
    auto e = error_of("name: [a, b]\nagent: {plugin: shell}\n");
    CHECK(e.message == "bp.yaml:1:7: 'name' must be a string, got a list");
  }
  SECTION("agent as a string") {
    auto e = error_of("name: x\nagent: shell\n");
    CHECK(e.message == "bp.yaml:2:8: 'agent' must be a mapping, got 'shell'");
  }
  SECTION("inspect as a mapping") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect:\n  plugin: command\n");
    CHECK(e.message == "bp.yaml:4:3: 'inspect' must be a list of plugin uses, got a mapping");
  }
  SECTION("an inspect entry that is a string") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect:\n  - make test\n");
    CHECK(e.message == "bp.yaml:4:5: 'inspect[0]' must be a mapping with a 'plugin' key, got 'make test'");
  }
  SECTION("with as a list") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  with: [a]\n");
    CHECK(e.message == "bp.yaml:4:9: 'agent.with' must be a mapping of plugin settings, got a list");
  }
  SECTION("timeout with no value") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  timeout:\n");
    CHECK(e.message == "bp.yaml:4:3: 'agent.timeout' has no value");
  }
  SECTION("the document is a list") {
    auto e = error_of("- name: x\n");
    CHECK(e.message == "bp.yaml:1:1: a blueprint must be a mapping of keys, got a list");
  }
}

TEST_CASE("bad values are located at the value", "[blueprint][errors]") {
  SECTION("slots: 0") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nslots: 0\n");
    CHECK(e.message == "bp.yaml:3:8: 'slots' must be at least 1, got 0");
  }
  SECTION("rework_limit: -1") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nrework_limit: -1\n");
    CHECK(e.message == "bp.yaml:3:15: 'rework_limit' must be at least 1, got -1");
  }
  SECTION("a huge slots") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nslots: 99999999999\n");
    CHECK(e.message == "bp.yaml:3:8: 'slots' is too large, got 99999999999");
  }
  SECTION("timeout: 0") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  timeout: 0\n");
    CHECK(e.message == "bp.yaml:4:12: 'agent.timeout' must be at least 1, got 0");
  }
  SECTION("name: Bad_Name") {
    auto e = error_of("agent: {plugin: shell}\nname: Bad_Name\n");
    CHECK(e.message == "bp.yaml:2:7: 'name' must match [a-z0-9-]+, got 'Bad_Name'");
    CHECK(e.hint == "use lowercase letters, digits and '-', e.g. name: bad-name");
  }
  SECTION("decompose: paragraphs") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ndecompose: paragraphs\n");
    CHECK(e.message == "bp.yaml:3:12: 'decompose' must be 'headings' or 'checklist', got 'paragraphs'");
    CHECK(e.hint == "headings: each '## Title' is one item; checklist: each '- [ ] text' is one item");
  }
  SECTION("decompose: a typo") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ndecompose: checklst\n");
    CHECK(e.hint == "did you mean 'checklist'?");
  }
  SECTION("an empty plugin name") {
    auto e = error_of("name: x\nagent:\n  plugin: \"\"\n");
    CHECK(e.message == "bp.yaml:3:11: 'agent.plugin' must not be empty");
  }
  SECTION("a duplicate key") {
    auto e = error_of("name: x\nslots: 2\nagent: {plugin: shell}\nslots: 3\n");
    CHECK(e.message == "bp.yaml:4:1: duplicate key 'slots'");
  }
  SECTION("a duplicate key inside with") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  with:\n    a: 1\n    a: 2\n");
    CHECK(e.message == "bp.yaml:6:5: duplicate key 'a'");
  }
}

TEST_CASE("the first error in document order wins", "[blueprint][errors]") {
  auto e = error_of("slots: 0\nname: Bad_Name\nfoo: 1\n");
  CHECK(e.message == "bp.yaml:1:8: 'slots' must be at least 1, got 0");
}

TEST_CASE("malformed YAML is located 1-based", "[blueprint][errors]") {
  SECTION("an unclosed flow sequence") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect: [a, b\nslots: 3\n");
    CHECK(e.message.rfind("bp.yaml:", 0) == 0);
    CHECK(e.message.find("malformed YAML: end of sequence flow not found") != std::string::npos);
    CHECK_FALSE(e.hint.empty());
  }
  SECTION("bad indentation") {
    auto e = error_of("name: x\n  agent: 2\n");
    CHECK(e.message == "bp.yaml:2:8: malformed YAML: illegal map value");
  }
  SECTION("a tab") {
    auto e = error_of("name: x\nagent:\n\tplugin: shell\n");
    CHECK(e.message.rfind("bp.yaml:3:", 0) == 0);
    CHECK(e.message.find("malformed YAML") != std::string::npos);
  }
  SECTION("empty") {
    auto e = error_of("# nothing here\n");
    CHECK(e.message == "bp.yaml:1:1: blueprint is empty");
    CHECK(e.hint.find("name: my-run") != std::string::npos);
  }
  SECTION("two documents") {
    auto e = error_of("name: x\nagent: {plugin: shell}\n---\nname: y\n");
    CHECK(e.message == "bp.yaml:4:1: blueprint has more than one YAML document");
  }
}

TEST_CASE("a blueprint that is not UTF-8 is refused at its first bad byte", "[blueprint][errors]") {
  // yaml-cpp alone passes such bytes through unchecked, into the plugin settings.
  auto e = error_of("name: x\nagent:\n  plugin: shell\n  with: { command: \"echo d\xe9j\xe0\" }\n");
  CHECK(e.message == "bp.yaml:4:27: not valid UTF-8 (byte 0xe9)");
  CHECK(e.hint.find("save the file as UTF-8") == 0);
  auto comment = error_of("# \xa9 2024\nname: x\nagent: { plugin: shell }\n");
  CHECK(comment.message == "bp.yaml:1:3: not valid UTF-8 (byte 0xa9)");
}

TEST_CASE("blueprints are read from files", "[blueprint][file]") {
  fab::test::TempDir dir;
  const auto good = dir / "good.yaml";
  fab::test::write_file(good, kFull);
  auto r = fab::parse_blueprint_file(good);
  REQUIRE(r);
  CHECK(r->name == "add-feature");
  CHECK(r->source_path == good.string());
  CHECK(r->source_text == kFull);

  const auto bad = dir / "bad.yaml";
  fab::test::write_file(bad, "name: x\nagent:\n  plugin: shell\n  timeout: soon\n");
  auto e = fab::parse_blueprint_file(bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == bad.string() + ":4:12: 'agent.timeout' must be an integer, got 'soon'");

  auto missing = fab::parse_blueprint_file(dir / "nope.yaml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "cannot read '" + (dir / "nope.yaml").string() + "': No such file or directory");
  CHECK_FALSE(missing.error().hint.empty());

  auto directory = fab::parse_blueprint_file(dir.path());
  REQUIRE_FALSE(directory);
  CHECK(directory.error().message.find("is a directory") != std::string::npos);
}

TEST_CASE("edit distance and suggestions", "[did_you_mean]") {
  CHECK(fab::edit_distance("", "") == 0);
  CHECK(fab::edit_distance("abc", "") == 3);
  CHECK(fab::edit_distance("kitten", "sitting") == 3);
  CHECK(fab::edit_distance("wiht", "with") == 1);  // a swap costs 1
  const std::vector<std::string_view> keys = {"slots", "rework_limit", "refine"};
  CHECK(fab::did_you_mean("rework_limt", keys) == "did you mean 'rework_limit'?");
  CHECK(fab::did_you_mean("slot", keys) == "did you mean 'slots'?");
  CHECK(fab::did_you_mean("zebra", keys).empty());
  CHECK_FALSE(fab::closest_match("x", keys).has_value());
}

TEST_CASE("YAML scalars resolve by the core schema", "[yaml_to_json]") {
  CHECK(fab::resolve_yaml_scalar("12", "?") == 12);
  CHECK(fab::resolve_yaml_scalar("12", "!") == "12");
  CHECK(fab::resolve_yaml_scalar("0o17", "?") == 15);
  CHECK(fab::resolve_yaml_scalar("+3", "?") == 3);
  CHECK(fab::resolve_yaml_scalar("18446744073709551615", "?") == 18446744073709551615ULL);
  CHECK(fab::resolve_yaml_scalar("-.5", "?") == -0.5);
  CHECK(std::isinf(fab::resolve_yaml_scalar(".inf", "?").get<double>()));
  CHECK(fab::resolve_yaml_scalar("yes", "?") == "yes");  // YAML 1.1 booleans are strings in 1.2
  CHECK(fab::resolve_yaml_scalar("NULL", "?").is_null());
  CHECK(fab::resolve_yaml_scalar("1.2.3", "?") == "1.2.3");
}

TEST_CASE("agents and inspectors take env and sandbox", "[blueprint]") {
  auto bp = fab::parse_blueprint(R"(name: x
agent:
  plugin: shell
  env: [HOME, PATH, ANTHROPIC_API_KEY]
  sandbox: true
inspect:
  - plugin: command
    env: []
  - plugin: command
    sandbox: false
refine:
  - plugin: llm
    with: { api_key_env: OPENAI_API_KEY }
  - plugin: llm
    with: { api_key_env: OTHER_KEY }
  - plugin: llm
    with: { api_key_env: OPENAI_API_KEY }
)",
                                 "bp.yaml");
  REQUIRE(bp);
  REQUIRE(bp->agent.env);
  CHECK(*bp->agent.env == std::vector<std::string>{"HOME", "PATH", "ANTHROPIC_API_KEY"});
  CHECK(bp->agent.sandbox);
  CHECK(bp->agent.sandbox_at == "bp.yaml:5:3");
  REQUIRE(bp->inspect.size() == 2);
  REQUIRE(bp->inspect[0].env);
  CHECK(bp->inspect[0].env->empty());  // given, and empty: none of fab's variables
  CHECK_FALSE(bp->inspect[0].sandbox);
  CHECK_FALSE(bp->inspect[1].env);  // not given: all but the secrets
  CHECK_FALSE(bp->inspect[1].sandbox);
  CHECK(fab::secret_env_names(*bp) == std::vector<std::string>{"OPENAI_API_KEY", "OTHER_KEY"});
  const auto j = fab::to_json(*bp);
  CHECK(j["agent"]["env"] == nlohmann::json::array({"HOME", "PATH", "ANTHROPIC_API_KEY"}));
  CHECK(j["agent"]["sandbox"] == true);
  CHECK_FALSE(j["inspect"][1].contains("sandbox"));

  auto plain = fab::parse_blueprint("name: x\nagent: {plugin: shell}\n", "bp.yaml");
  REQUIRE(plain);
  CHECK(fab::secret_env_names(*plain).empty());
  CHECK_FALSE(plain->agent.env);
  CHECK_FALSE(plain->agent.sandbox);
}

TEST_CASE("env and sandbox errors are located", "[blueprint][errors]") {
  SECTION("env that is not a list") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  env: HOME\n");
    CHECK(e.message == "bp.yaml:4:8: 'agent.env' must be a list of environment variable names, got 'HOME'");
    CHECK(e.hint.find("env: [HOME, PATH, ANTHROPIC_API_KEY]") != std::string::npos);
  }
  SECTION("env with no value") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  env:\n");
    CHECK(e.message == "bp.yaml:4:3: 'agent.env' has no value");
    CHECK(e.hint.find("env: [] gives none") != std::string::npos);
  }
  SECTION("a name that is not a variable name") {
    auto e = error_of("name: x\nagent: {plugin: shell}\ninspect:\n  - plugin: command\n    env: [HOME, 2FA-KEY]\n");
    CHECK(e.message == "bp.yaml:5:17: 'inspect[0].env[1]' must be an environment variable name, got '2FA-KEY'");
  }
  SECTION("a name listed twice") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  env: [HOME, PATH, HOME]\n");
    CHECK(e.message == "bp.yaml:4:21: 'HOME' is listed twice in 'agent.env'");
  }
  SECTION("sandbox that is not a boolean") {
    auto e = error_of("name: x\nagent:\n  plugin: shell\n  sandbox: yes please\n");
    CHECK(e.message == "bp.yaml:4:12: 'agent.sandbox' must be true or false, got 'yes please'");
    CHECK(e.hint == "e.g. sandbox: true");
  }
  SECTION("a refinery resolver has neither: it runs in no workspace") {
    auto e = error_of("name: x\nagent: {plugin: shell}\nrefine:\n  - plugin: llm\n    sandbox: true\n");
    CHECK(e.message == "bp.yaml:5:5: unknown key 'sandbox' in 'refine[0]'");
    auto env = error_of("name: x\nagent: {plugin: shell}\nrefine:\n  - plugin: llm\n    env: [HOME]\n");
    CHECK(env.message == "bp.yaml:5:5: unknown key 'env' in 'refine[0]'");
  }
}
