// What each plugin call of a line gets: the line's secrets kept from agents and inspectors, the
// blueprint's env: list honoured, and the sandbox's places.
#include <catch2/catch.hpp>

#include "blueprints/blueprint.h"
#include "engine/plugin_call_options.h"

using fab::plugins::PluginKind;

TEST_CASE("call options: secrets removed from agents and inspectors, env: honoured, sandbox places", "[engine]") {
  auto bp = fab::parse_blueprint(R"(name: x
agent:
  plugin: shell
  sandbox: true
inspect:
  - plugin: command
    env: [HOME, RESOLVER_KEY]
refine:
  - plugin: deterministic
  - plugin: llm
    with: { api_key_env: RESOLVER_KEY }
  - plugin: llm
    with: { api_key_env: SECOND_KEY }
)",
                                 "bp.yaml");
  REQUIRE(bp);
  const fab::engine::CallPlaces places{"/w/pool-1", "/repo", "/w"};

  const auto agent = fab::engine::call_options_for(*bp, bp->agent, PluginKind::agent, places);
  CHECK_FALSE(agent.env.only);
  CHECK(agent.env.remove == std::vector<std::string>{"RESOLVER_KEY", "SECOND_KEY"});
  CHECK(agent.sandbox.enabled);
  CHECK(agent.sandbox.writable == std::vector<std::filesystem::path>{"/w/pool-1"});
  CHECK(agent.sandbox.read_only == std::vector<std::filesystem::path>{"/repo", "/w"});

  // Listed in env:, a secret is given on purpose; the others stay removed.
  const auto inspector = fab::engine::call_options_for(*bp, bp->inspect[0], PluginKind::inspector, places);
  REQUIRE(inspector.env.only);
  CHECK(*inspector.env.only == std::vector<std::string>{"HOME", "RESOLVER_KEY"});
  CHECK(inspector.env.remove == std::vector<std::string>{"SECOND_KEY"});
  CHECK_FALSE(inspector.sandbox.enabled);

  // The resolver needs its key: nothing is removed.
  const auto resolver = fab::engine::call_options_for(*bp, bp->refine[1], PluginKind::refinery, places);
  CHECK_FALSE(resolver.env.only);
  CHECK(resolver.env.remove.empty());
  CHECK_FALSE(resolver.sandbox.enabled);
}
