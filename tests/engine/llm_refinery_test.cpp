// A conflict the deterministic refinery cannot settle (two items change the same line differently)
// is settled by the `llm` refinery, here against a stand-in provider on 127.0.0.1, and lands on
// trunk through the real fab binary.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include "tests/engine/engine_fixture.h"
#include "tests/support/fake_llm_provider.h"

using namespace fab;
using namespace fab::test;

namespace {

constexpr const char* kKeyEnv = "FAB_TEST_ENGINE_LLM_KEY";
constexpr const char* kKey = "sk-engine-test-secret-2718";

// Item 1 writes shared.txt; items 2 and 3 (both after item 1) each rewrite its second line their own way.
const std::string kAgent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'alpha\nbeta\ngamma\n' > shared.txt ;;
  *) sed -i "s/^beta\$/beta from $FAB_ITEM_ID/" shared.txt ;;
esac)";

std::string refine_yaml(const FakeProvider& p) {
  return "refine:\n  - plugin: deterministic\n  - plugin: llm\n    with:\n      endpoint: \"" + p.endpoint() +
         "\"\n      model: test-model\n      api_key_env: " + kKeyEnv + "\n      timeout_s: 30\n      max_attempts: 2\n";
}

struct KeyInEnv {
  KeyInEnv() { ::setenv(kKeyEnv, kKey, 1); }
  ~KeyInEnv() { ::unsetenv(kKeyEnv); }
};

// Runs three items (2 and 3 both after 1) with the deterministic then the llm refinery and
// rework_limit 1 (had the llm not settled the conflict, the item would be dropped, not quietly
// retried); every item must merge on its first attempt. Returns the line and what `fab run` printed.
std::pair<std::string, ProcessResult> run_all_merged(FactoryFixture& f, const std::string& agent,
                                                     const FakeProvider& provider) {
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 1, refine_yaml(provider)), requirement_md(3, {{2, 1}, {3, 1}}));
  auto run = f.run_until_idle();
  for (const auto& item : f.line(line).items) {
    INFO(item.id << " " << to_string(item.state) << " " << item.drop_reason);
    CHECK(item.state == ItemState::merged);
    CHECK(item.attempts == 1);
  }
  return {line, run};
}

}  // namespace

TEST_CASE("a conflict the deterministic refinery leaves is settled by the llm refinery and lands",
          "[engine][floor][conflict][llm]") {
  KeyInEnv key;  // fab run, and so the plugin child, inherit it
  FakeProvider provider([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, "beta from both items\n"}}));
  });
  FactoryFixture f;
  const auto [line, run] = run_all_merged(f, kAgent, provider);
  CHECK(f.file_on_trunk("shared.txt") == "alpha\nbeta from both items\ngamma\n");
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
  }
  check_invariants(f, line);

  // The model was asked once, with both sides of the conflict and the key.
  REQUIRE(provider.requests() == 1);
  const auto seen = provider.request(1);
  CHECK(seen.authorization == std::string("Bearer ") + kKey);
  const auto prompt = nlohmann::json::parse(seen.body)["messages"][1]["content"].get<std::string>();
  CHECK(prompt.find("shared.txt") != std::string::npos);
  CHECK(prompt.find("beta from " + line + ".2") != std::string::npos);
  CHECK(prompt.find("beta from " + line + ".3") != std::string::npos);

  // stderr says the conflict was settled; the item's refine log says by whom.
  CHECK(run.err.find("refining: settled the conflict in shared.txt (llm)") != std::string::npos);
  // And the journal records which resolver settled which file.
  int by_llm = 0;
  for (const auto& r : f.journal(line)) {
    if (r.kind == "resolved" && r.str("path") == "shared.txt" && r.str("resolver") == "llm") ++by_llm;
  }
  CHECK(by_llm == 1);
  const auto refine_logs = f.refine_logs(line);
  REQUIRE(refine_logs.size() == 1);
  INFO(refine_logs[0]);
  CHECK(refine_logs[0].find("shared.txt: refinery deterministic: not settled: 1 left for the next resolver (line 2)") !=
        std::string::npos);
  CHECK(refine_logs[0].find("shared.txt: refinery llm: model test-model settled 1 hunk(s) in 1 request(s)") !=
        std::string::npos);

  // The key is nowhere fab prints or keeps.
  CHECK(run.out.find(kKey) == std::string::npos);
  CHECK(run.err.find(kKey) == std::string::npos);
  for (const auto& e : std::filesystem::recursive_directory_iterator(f.root() / ".factory")) {
    if (e.is_regular_file()) {
      INFO(e.path());
      CHECK(read_file(e.path()).find(kKey) == std::string::npos);
    }
  }
}

TEST_CASE("a Latin-1 file's conflict is settled by the llm refinery and lands as Latin-1 bytes",
          "[engine][floor][conflict][llm]") {
  KeyInEnv key;
  // The model writes "ç" as U+00E7 in its UTF-8 answer; on trunk it is the file's byte 0xe7.
  FakeProvider provider([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, "Fran\xc3\xa7ois from both items\n"}}));
  });
  const std::string agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'alpha\nFran\347ois\ngamma\n' > shared.txt ;;
  *) sed -i "s/ois\$/ois from $FAB_ITEM_ID/" shared.txt ;;
esac)";
  FactoryFixture f;
  const auto line = run_all_merged(f, agent, provider).first;
  CHECK(f.file_on_trunk("shared.txt") == "alpha\nFran\xe7ois from both items\ngamma\n");
  REQUIRE(provider.requests() == 1);
  const auto prompt = nlohmann::json::parse(provider.request(1).body)["messages"][1]["content"].get<std::string>();
  CHECK(prompt.find("This file is not UTF-8") != std::string::npos);
  CHECK(prompt.find("Fran\xc3\xa7ois from " + line + ".2") != std::string::npos);
  check_invariants(f, line);
}
