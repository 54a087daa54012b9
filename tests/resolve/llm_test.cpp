#include <catch2/catch.hpp>

#include <stdlib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "plugins/resolve/llm_resolver.h"
#include "plugins/resolve/merge3.h"
#include "tests/support/fake_llm_provider.h"

using fab::resolve::llm_resolve;
using fab::resolve::LlmConfig;
using fab::resolve::merge3;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_key_env = "FAB_TEST_LLM_KEY";
constexpr const char* k_key = "sk-test-very-secret-4711";

using fab::test::completion;
using fab::test::FakeProvider;
using fab::test::reply_ok;
using Seen = fab::test::SeenRequest;

using fab::test::hunks_answer;
// The conflict (fake_llm_provider.h).
using fab::test::kBase;
using fab::test::kGood;
using fab::test::kOurs;
using fab::test::kResolved;
using fab::test::kTheirs;

struct Env {
  Env() { ::setenv(k_key_env, k_key, 1); }
  ~Env() { ::unsetenv(k_key_env); }
};

LlmConfig config_for(const FakeProvider& p) {
  LlmConfig c;
  c.endpoint = p.endpoint();
  c.model = "test-model";
  c.api_key_env = k_key_env;
  c.timeout_ms = 5000;
  c.max_attempts = 3;
  c.backoff_ms = 10;
  return c;
}

template <class R>
std::string rendered_error(const R& r) {
  REQUIRE_FALSE(r);
  std::string text = r.error().render();
  CHECK(text.find(k_key) == std::string::npos);
  CHECK_FALSE(r.error().hint.empty());
  return text;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("llm_resolve writes back the model's resolution", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, kGood}})); });
  auto partial = merge3(kBase, kOurs, kTheirs);
  REQUIRE(partial.unresolved.size() == 1);
  auto r = llm_resolve(config_for(p), "src/main.cpp", partial, kBase, kOurs, kTheirs);
  REQUIRE(r);
  CHECK(r->content == kResolved);
  CHECK(r->attempts == 1);

  REQUIRE(p.requests() == 1);
  Seen seen = p.request(1);
  CHECK(seen.authorization == std::string("Bearer ") + k_key);
  json body = json::parse(seen.body);
  CHECK(body["model"] == "test-model");
  CHECK(body["temperature"] == 0);
  REQUIRE(body["messages"].size() == 2);
  CHECK(body["messages"][0]["role"] == "system");
  CHECK(body["messages"][1]["role"] == "user");
  std::string prompt = body["messages"][1]["content"];
  CHECK(contains(prompt, "src/main.cpp"));
  CHECK(contains(prompt, "### Hunk 1"));
  CHECK(contains(prompt, "  int x = 2;\n  log(x);\n"));
  CHECK(contains(prompt, "  int x = 3;\n  log(x);\n"));
  CHECK(contains(prompt, "  int x = 1;\n"));
}

TEST_CASE("llm_resolve accepts an answer in a ```json fence and answers in any order", "[llm]") {
  const std::string base = "a\nb\nc\nd\ne\n", ours = "a\nB1\nc\nd\nE1\n", theirs = "a\nB2\nc\nd\nE2\n";
  auto partial = merge3(base, ours, theirs);
  REQUIRE(partial.unresolved.size() == 2);
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, "Here you go:\n```json\n" + hunks_answer({{2, "E\n"}, {1, "B1\nB2"}}) + "\n```\n");
  });
  LlmConfig c = config_for(p);
  c.api_key_env.clear();
  auto r = llm_resolve(c, "f.txt", partial, base, ours, theirs);
  REQUIRE(r);
  CHECK(r->content == "a\nB1\nB2\nc\nd\nE\n");
  CHECK_FALSE(p.request(1).has_authorization);
}

TEST_CASE("llm_resolve keeps CRLF and a missing final newline", "[llm]") {
  const std::string base = "a\r\nb\r\nc", ours = "a\r\nX\r\nc2", theirs = "a\r\nY\r\nc3";
  auto partial = merge3(base, ours, theirs);
  REQUIRE(partial.unresolved.size() == 1);
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, "XY\nc23\n"}})); });
  auto r = llm_resolve(config_for(p), "f.txt", partial, base, ours, theirs);
  REQUIRE(r);
  CHECK(r->content == "a\r\nXY\r\nc23");
}

TEST_CASE("llm_resolve makes no request when nothing is left to resolve", "[llm]") {
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({})); });
  auto partial = merge3("a\n", "b\n", "a\n");
  REQUIRE(partial.clean());
  auto r = llm_resolve(config_for(p), "f.txt", partial, "a\n", "b\n", "a\n");
  REQUIRE(r);
  CHECK(r->content == "b\n");
  CHECK(r->attempts == 0);
  CHECK(p.requests() == 0);
}

TEST_CASE("llm_resolve retries after HTTP 500", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 500;
      res.set_content("{\"error\":\"boom\"}", "application/json");
    } else {
      reply_ok(res, hunks_answer({{1, kGood}}));
    }
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  REQUIRE(r);
  CHECK(r->content == kResolved);
  CHECK(r->attempts == 2);
  CHECK(p.requests() == 2);
}

TEST_CASE("llm_resolve honours Retry-After on HTTP 429", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content("{\"error\":\"slow down\"}", "application/json");
    } else {
      reply_ok(res, hunks_answer({{1, kGood}}));
    }
  });
  LlmConfig c = config_for(p);
  c.backoff_ms = 0;
  auto start = std::chrono::steady_clock::now();
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  REQUIRE(r);
  CHECK(r->attempts == 2);
  CHECK(std::chrono::steady_clock::now() - start >= 1s);  // waited as told, not backoff_ms (0)
}

TEST_CASE("llm_resolve caps a long Retry-After", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    if (n == 1) {
      res.status = 429;
      res.set_header("Retry-After", "3600");
    } else {
      reply_ok(res, hunks_answer({{1, kGood}}));
    }
  });
  LlmConfig c = config_for(p);
  CHECK(c.max_retry_after_s == 60);  // the cap fab uses
  c.max_retry_after_s = 1;           // (a test cannot wait 60 s)
  auto start = std::chrono::steady_clock::now();
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  REQUIRE(r);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 1s);   // waited up to the cap
  CHECK(waited < 30s);   // not an hour
}

TEST_CASE("llm_resolve gives up on a persistent HTTP 500", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 500;
    res.set_content("internal trouble", "text/plain");
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  std::string text = rendered_error(r);
  CHECK(contains(r.error().message, "provider returned HTTP 500"));
  CHECK(contains(r.error().message, "src/main.cpp"));
  CHECK(contains(text, "internal trouble"));
  CHECK(contains(text, "gave up after 3 attempts"));
  CHECK(p.requests() == 3);
}

TEST_CASE("llm_resolve times out on a slow provider", "[llm]") {
  Env env;
  FakeProvider* self = nullptr;
  FakeProvider p([&self](const httplib::Request&, httplib::Response& res, int) {
    self->slow_sleep(1500ms);
    reply_ok(res, hunks_answer({{1, kGood}}));
  });
  self = &p;
  LlmConfig c = config_for(p);
  c.timeout_ms = 300;
  c.max_attempts = 2;
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "timed out after 0.3 s"));
  CHECK(p.requests() == 2);
}

TEST_CASE("llm_resolve rejects a malformed provider body", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content("{\"choices\": [ oops", "application/json");
  });
  LlmConfig c = config_for(p);
  c.max_attempts = 2;
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  // nlohmann counts bytes from 1: the "o" of "oops" is the 15th.
  CHECK(contains(r.error().message, "invalid JSON from provider at offset 15"));
  CHECK(p.requests() == 2);
}

TEST_CASE("llm_resolve rejects an answer that is not the requested JSON", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, "Sure! Just use x = 5."); });
  LlmConfig c = config_for(p);
  c.max_attempts = 1;
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "model answer is not valid JSON at offset"));
  CHECK(p.requests() == 1);
}

TEST_CASE("llm_resolve rejects an answer that leaves a hunk out", "[llm]") {
  Env env;
  const std::string base = "a\nb\nc\nd\ne\n", ours = "a\nB1\nc\nd\nE1\n", theirs = "a\nB2\nc\nd\nE2\n";
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, "B\n"}})); });
  LlmConfig c = config_for(p);
  c.max_attempts = 2;
  auto r = llm_resolve(c, "f.txt", merge3(base, ours, theirs), base, ours, theirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "does not settle hunk 2"));
  CHECK(p.requests() == 2);
}

TEST_CASE("llm_resolve rejects an answer that still has conflict markers", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, "<<<<<<< ours\n  int x = 2;\n  log(x);\n=======\n  int x = 3;\n  log(x);\n>>>>>>> theirs\n"}}));
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "answer still has conflict markers"));
  CHECK(p.requests() == 3);
}

TEST_CASE("llm_resolve refuses jj's lengthened markers and a lone separator", "[llm]") {
  Env env;
  for (std::string bad : {"<<<<<<<<<<< conflict 1 of 1\n" + kGood + ">>>>>>>>>>> conflict 1 of 1 ends\n",
                          "%%%%%%% diff from: base\n" + kGood, kGood + "\n=======\n"}) {
    INFO(bad);
    FakeProvider p([bad](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, bad}})); });
    auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
    rendered_error(r);
    CHECK(contains(r.error().message, "answer still has conflict markers"));
  }
}

TEST_CASE("llm_resolve refuses an answer that contains the API key", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    reply_ok(res, hunks_answer({{1, kGood + "  const char* key = \"" + std::string(k_key) + "\";\n"}}));
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);  // and the key is not in the error
  CHECK(contains(r.error().message, "contains the API key"));
  CHECK(p.requests() == 3);
}

TEST_CASE("llm_resolve removes the key before it shortens a provider's words", "[llm]") {
  Env env;
  // The key straddles the point where the provider's body is cut for the error message: cut first,
  // the key's first characters would survive it.
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 500;
    res.set_content(std::string(190, 'x') + k_key + " trailing words", "text/plain");
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  std::string text = rendered_error(r);
  CHECK(text.find(std::string(k_key).substr(0, 8)) == std::string::npos);
  CHECK(contains(text, "[redact"));
}

TEST_CASE("llm_resolve recovers when a later answer is usable", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    reply_ok(res, hunks_answer({{1, n == 1 ? "=======\n" + kGood : kGood}}));
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  REQUIRE(r);
  CHECK(r->content == kResolved);
  CHECK(r->attempts == 2);
}

TEST_CASE("llm_resolve rejects an answer that drops a line both sides agree on", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, "  int x = 5;\n  y = 5;\n"}})); });
  LlmConfig c = config_for(p);
  c.max_attempts = 2;
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "drops a line both sides agree on: \"  log(x);\""));
  CHECK(p.requests() == 2);
}

TEST_CASE("llm_resolve fails at once on a refusal", "[llm]") {
  Env env;
  SECTION("refusal field") {
    FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
      res.set_content(completion(nullptr, "stop", "I can't help with that."), "application/json");
    });
    auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
    std::string text = rendered_error(r);
    CHECK(contains(r.error().message, "refused"));
    CHECK(contains(text, "I can't help with that."));
    CHECK(p.requests() == 1);
  }
  SECTION("content filter") {
    FakeProvider p([](const httplib::Request&, httplib::Response& res, int) {
      res.set_content(completion("", "content_filter"), "application/json");
    });
    auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
    rendered_error(r);
    CHECK(contains(r.error().message, "content_filter"));
    CHECK(p.requests() == 1);
  }
  SECTION("empty answer") {
    FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, ""); });
    auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
    rendered_error(r);
    CHECK(contains(r.error().message, "refused (empty answer)"));
    CHECK(p.requests() == 1);
  }
}

TEST_CASE("llm_resolve fails at once on HTTP 401 and never repeats the key", "[llm]") {
  Env env;
  FakeProvider p([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = 401;
    // Like some providers, echo what was sent.
    res.set_content("{\"error\":\"Incorrect API key provided: " + req.get_header_value("Authorization") + "\"}",
                    "application/json");
  });
  auto r = llm_resolve(config_for(p), "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  std::string text = rendered_error(r);
  CHECK(contains(r.error().message, "provider returned HTTP 401"));
  CHECK(contains(text, "Incorrect API key provided"));
  CHECK(contains(text, "[redacted]"));
  CHECK(contains(r.error().hint, k_key_env));
  CHECK(p.requests() == 1);
}

TEST_CASE("llm_resolve needs the key variable it was told to use", "[llm]") {
  ::unsetenv("FAB_TEST_LLM_NO_SUCH_KEY");
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int) { reply_ok(res, hunks_answer({{1, kGood}})); });
  LlmConfig c = config_for(p);
  c.api_key_env = "FAB_TEST_LLM_NO_SUCH_KEY";
  auto r = llm_resolve(c, "src/main.cpp", merge3(kBase, kOurs, kTheirs), kBase, kOurs, kTheirs);
  rendered_error(r);
  CHECK(contains(r.error().message, "FAB_TEST_LLM_NO_SUCH_KEY is not set"));
  CHECK(contains(r.error().hint, "FAB_TEST_LLM_NO_SUCH_KEY"));
  CHECK(p.requests() == 0);
}

TEST_CASE("llm_resolve refuses an answer that does not parse where the file's grammar parses both sides", "[llm]") {
  Env env;
  // The answer drops a ';' (n == 1), then gets it right.
  FakeProvider p([](const httplib::Request&, httplib::Response& res, int n) {
    reply_ok(res, hunks_answer({{1, n == 1 ? "  int x = 5;\n  log(x);\n  y = 5\n" : kGood}}));
  });
  auto partial = merge3(kBase, kOurs, kTheirs);
  auto r = llm_resolve(config_for(p), "src/main.cpp", partial, kBase, kOurs, kTheirs);
  REQUIRE(r);
  CHECK(r->content == kResolved);
  CHECK(r->attempts == 2);

  SECTION("every answer fails: the reason is in the error, with the line") {
    FakeProvider bad([](const httplib::Request&, httplib::Response& res, int) {
      reply_ok(res, hunks_answer({{1, "  int x = 5;\n  log(x);\n  y = 5\n"}}));
    });
    LlmConfig c = config_for(bad);
    c.max_attempts = 2;
    auto failed = llm_resolve(c, "src/main.cpp", partial, kBase, kOurs, kTheirs);
    rendered_error(failed);
    CHECK(contains(failed.error().message, "the answer was refused: it does not parse as cpp (line"));
    CHECK(bad.requests() == 2);
  }
  SECTION("a file with no grammar is not parse-checked") {
    FakeProvider any([](const httplib::Request&, httplib::Response& res, int) {
      reply_ok(res, hunks_answer({{1, "  int x = 5;\n  log(x);\n  y = 5\n"}}));
    });
    auto taken = llm_resolve(config_for(any), "notes.txt", partial, kBase, kOurs, kTheirs);
    REQUIRE(taken);
    CHECK(taken->attempts == 1);
  }
}
