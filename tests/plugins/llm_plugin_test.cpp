// The built-in `llm` refinery (fab-plugin-llm.so) called the way the factory calls it: through the
// host, in a crash-isolated `fab __plugin-call` child, against a stand-in provider on 127.0.0.1.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fab/latin1.h>

#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_search.h"
#include "tests/support/fake_llm_provider.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace fab::plugins;
using namespace fab::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKeyEnv = "FAB_TEST_LLM_PLUGIN_KEY";
constexpr const char* kKey = "sk-plugin-test-secret-0815";

// The API key in the environment the plugin child inherits, for one test.
struct KeyInEnv {
  KeyInEnv() { ::setenv(kKeyEnv, kKey, 1); }
  ~KeyInEnv() { ::unsetenv(kKeyEnv); }
};

PluginRef builtin(const std::string& name) {
  HostOptions o;
  o.fab_exe = fs::path(FAB_TEST_BIN_DIR) / "fab";
  o.builtin_dirs = {FAB_TEST_BIN_DIR};
  auto ref = find_plugin(name, PluginKind::refinery, o);
  REQUIRE(ref);
  return *ref;
}

json request_for(const FakeProvider& p, int max_attempts = 3, int timeout_s = 10) {
  return {{"path", "src/main.cpp"},
          {"base", kBase},
          {"ours", kOurs},
          {"theirs", kTheirs},
          {"with",
           {{"endpoint", p.endpoint()},
            {"model", "test-model"},
            {"api_key_env", kKeyEnv},
            {"timeout_s", timeout_s},
            {"max_attempts", max_attempts}}}};
}

// Calls the llm plugin through the host and checks the key shows up nowhere fab could print or keep.
PluginCallResult call_llm(const json& request) {
  auto r = call_plugin(builtin("llm"), request, 60s);
  if (!r) {
    const std::string text = r.error().render();
    CHECK(text.find(kKey) == std::string::npos);
    FAIL("the llm plugin gave no answer:\n" << text);
  }
  INFO(r->response.dump(2) << "\n--- diagnostics ---\n" << r->diagnostics);
  CHECK(r->plugin.name == "llm");
  CHECK(r->response.dump().find(kKey) == std::string::npos);
  CHECK(r->diagnostics.find(kKey) == std::string::npos);
  return *r;
}

std::string message_of(const PluginCallResult& r) { return r.response["message"].get<std::string>(); }

// What the deterministic refinery leaves: the partial merge with one diff3 block.
const std::string kPartial =
    "int main() {\n<<<<<<< ours\n  int x = 2;\n  log(x);\n  y = 2;\n||||||| base\n  int x = 1;\n=======\n"
    "  int x = 3;\n  log(x);\n  y = 3;\n>>>>>>> theirs\n  return x;\n}\n";

// The answer was not used: the file goes on to the next resolver as it came, markers and all.
void check_unresolved(const PluginCallResult& r) {
  CHECK_FALSE(r.ok);
  CHECK(r.response["resolved"] == false);
  CHECK(r.response["unresolved"] == 1);
  CHECK(r.response["content"] == kPartial);
}

}  // namespace

TEST_CASE("the llm plugin settles a conflict through the host", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, kGood}})); });
  json req = request_for(p);
  SECTION("from the three sides") {}
  SECTION("from what the deterministic refinery left, as the factory hands it on") {
    auto det = call_plugin(builtin("deterministic"), json{{"path", "src/main.cpp"}, {"base", kBase}, {"ours", kOurs},
                                                         {"theirs", kTheirs}, {"with", json::object()}}, 60s);
    REQUIRE(det);
    REQUIRE(det->response["resolved"] == false);
    REQUIRE(det->response["content"] == kPartial);
    req["content"] = det->response["content"];
  }
  auto r = call_llm(req);
  CHECK(r.ok);
  CHECK(r.response["resolved"] == true);
  CHECK(r.response["unresolved"] == 0);
  CHECK(r.response["content"] == kResolved);
  CHECK(message_of(r) == "model test-model settled 1 hunk(s) in 1 request(s)");
  REQUIRE(p.requests() == 1);
  const auto seen = p.request(1);
  CHECK(seen.authorization == std::string("Bearer ") + kKey);  // the key went where it belongs, only there
  const auto prompt = json::parse(seen.body)["messages"][1]["content"].get<std::string>();
  CHECK(prompt.find("src/main.cpp") != std::string::npos);
  CHECK(prompt.find("  int x = 2;\n  log(x);\n  y = 2;\n") != std::string::npos);
  CHECK(prompt.find("  int x = 3;\n  log(x);\n  y = 3;\n") != std::string::npos);
}

TEST_CASE("the llm plugin gives up on a provider that keeps failing, after max_attempts requests", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 500;
    res.set_content("internal trouble", "text/plain");
  });
  auto r = call_llm(request_for(p, 2));
  check_unresolved(r);
  CHECK(message_of(r).find("provider returned HTTP 500") != std::string::npos);
  CHECK(message_of(r).find("internal trouble") != std::string::npos);
  CHECK(message_of(r).find("gave up after 2 attempts") != std::string::npos);
  CHECK(p.requests() == 2);
}

TEST_CASE("the llm plugin waits out a 429 and settles on the retry", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content("{\"error\":\"slow down\"}", "application/json");
    } else {
      reply_ok(res, hunks_answer({{1, kGood}}));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = call_llm(request_for(p, 3));
  CHECK(std::chrono::steady_clock::now() - start >= 1s);  // waited as told
  CHECK(r.ok);
  CHECK(r.response["resolved"] == true);
  CHECK(r.response["content"] == kResolved);
  CHECK(message_of(r) == "model test-model settled 1 hunk(s) in 2 request(s)");
  CHECK(p.requests() == 2);
}

TEST_CASE("the llm plugin stops waiting for a slow provider at its timeout", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider* self = nullptr;
  FakeProvider p([&self](const httplib::Request&, httplib::Response& res, int) {
    self->slow_sleep(20s);
    reply_ok(res, hunks_answer({{1, kGood}}));
  });
  self = &p;
  const auto start = std::chrono::steady_clock::now();
  auto r = call_llm(request_for(p, 1, 1));
  CHECK(std::chrono::steady_clock::now() - start < 15s);
  check_unresolved(r);
  CHECK(message_of(r).find("timed out after 1 s") != std::string::npos);
  CHECK(p.requests() == 1);
}

TEST_CASE("the llm plugin refuses a provider reply that is not JSON", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content("{\"choices\": [ oops", "application/json");
  });
  auto r = call_llm(request_for(p, 2));
  check_unresolved(r);
  CHECK(message_of(r).find("invalid JSON from provider at offset 15") != std::string::npos);
  CHECK(p.requests() == 2);
}

TEST_CASE("the llm plugin refuses an answer that still has conflict markers", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, "<<<<<<< ours\n  int x = 2;\n  log(x);\n=======\n  int x = 3;\n  log(x);\n>>>>>>> theirs\n"}}));
  });
  auto r = call_llm(request_for(p, 2));
  check_unresolved(r);
  CHECK(message_of(r).find("answer still has conflict markers") != std::string::npos);
  CHECK(r.response["content"].get<std::string>().find("<<<<<<< ours") != std::string::npos);
  CHECK(p.requests() == 2);
}

TEST_CASE("the llm plugin never repeats the API key, even when the provider echoes it", "[llm][plugins]") {
  KeyInEnv key;
  FakeProvider p([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = 401;
    res.set_content("{\"error\":\"Incorrect API key provided: " + req.get_header_value("Authorization") + "\"}",
                    "application/json");
  });
  auto r = call_llm(request_for(p, 3));  // call_llm checks response and diagnostics for the key
  check_unresolved(r);
  CHECK(message_of(r).find("provider returned HTTP 401") != std::string::npos);
  CHECK(message_of(r).find("Incorrect API key provided") != std::string::npos);
  CHECK(message_of(r).find("[redacted]") != std::string::npos);
  CHECK(message_of(r).find(kKeyEnv) != std::string::npos);  // the hint names the variable, not its value
  CHECK(p.requests() == 1);                                   // a 401 is not retried
}

TEST_CASE("the llm plugin settles a file that is not UTF-8 on its bytes, read as Latin-1", "[llm][plugins]") {
  KeyInEnv key;
  // The sides are Latin-1 bytes (0xe7 is "c with cedilla"); fab sends them as their Latin-1
  // reading with "encoding": "latin1" and reads the answer back the same way.
  const std::string base = "Fran\xe7ois\nx = 1;\nend\n", ours = "Fran\xe7ois\nx = 2;\nend\n",
                    theirs = "Fran\xe7ois\nx = 3;\nend\n";
  std::string hunk;
  FakeProvider p([&hunk](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, hunk}}));
  });
  json req = request_for(p, 1);
  req["path"] = "po/fr.txt";
  req["encoding"] = "latin1";
  req["base"] = fab::latin1_to_utf8(base);
  req["ours"] = fab::latin1_to_utf8(ours);
  req["theirs"] = fab::latin1_to_utf8(theirs);
  SECTION("an answer in the file's characters is its bytes") {
    hunk = "x = 5; /* \xc3\xa7 */\n";  // U+00E7 in the model's UTF-8
    auto r = call_llm(req);
    CHECK(r.ok);
    CHECK(r.response["resolved"] == true);
    const auto content = fab::utf8_to_latin1(r.response["content"].get<std::string>());
    REQUIRE(content);
    CHECK(*content == "Fran\xe7ois\nx = 5; /* \xe7 */\nend\n");
    const auto prompt = json::parse(p.request(1).body)["messages"][1]["content"].get<std::string>();
    CHECK(prompt.find("This file is not UTF-8. It is shown as Latin-1") != std::string::npos);
    CHECK(prompt.find("Fran\xc3\xa7ois") != std::string::npos);
  }
  SECTION("a file that mixes UTF-8 with other bytes is not shown to the model") {
    // Its Latin-1 reading would show "caf\xc3\xa9" as mojibake, which a model may "fix" into other bytes.
    req["ours"] = fab::latin1_to_utf8("caf\xc3\xa9 Fran\xe7ois\nx = 2;\nend\n");
    hunk = "x = 5;\n";
    auto r = call_llm(req);
    CHECK_FALSE(r.ok);
    CHECK(message_of(r).find("mixes UTF-8 text with bytes that are not UTF-8") != std::string::npos);
    CHECK(p.requests() == 0);
  }
  SECTION("an answer with a character no byte stands for is not taken") {
    hunk = "x = 5; /* \xe2\x80\x94 */\n";  // U+2014
    auto r = call_llm(req);
    CHECK_FALSE(r.ok);
    CHECK(r.response["resolved"] == false);
    CHECK(message_of(r).find("no byte of this Latin-1 file; not taken") != std::string::npos);
  }
}
