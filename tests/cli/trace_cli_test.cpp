// `fab trace` on real runs: the spans of every attempt, written to a file and POSTed to an
// OTLP/HTTP receiver on 127.0.0.1 started by the test, both checked against what OTLP/JSON requires
// (ExportTraceServiceRequest: ids in hex of the right length, parents that exist, times in order,
// attributes with one typed value).
#include <httplib.h>

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/engine/engine_fixture.h"
#include "tests/support/ports.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path fixture(const std::string& name) { return fs::path(FAB_TEST_PLUGIN_DIR) / ("fab-plugin-" + name + ".so"); }

bool is_hex(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos &&
         s != std::string(n, '0');
}

bool is_decimal(const json& j) {
  return j.is_string() && !j.get<std::string>().empty() &&
         j.get<std::string>().find_first_not_of("0123456789") == std::string::npos;
}

// Checks `payload` as an OTLP/JSON ExportTraceServiceRequest; returns its spans.
std::vector<json> check_otlp(const json& payload) {
  REQUIRE(payload.is_object());
  REQUIRE(payload.at("resourceSpans").is_array());
  std::vector<json> spans;
  for (const auto& rs : payload.at("resourceSpans")) {
    for (const auto& a : rs.at("resource").at("attributes")) CHECK(a.at("key").is_string());
    for (const auto& ss : rs.at("scopeSpans")) {
      CHECK(ss.at("scope").at("name").is_string());
      for (const auto& s : ss.at("spans")) spans.push_back(s);
    }
  }
  // The fields of OTLP's Span message (opentelemetry/proto/trace/v1/trace.proto, in JSON's
  // lowerCamelCase): a misspelt one would be dropped by a collector without a word.
  const std::set<std::string> span_fields = {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name",
                                             "kind", "startTimeUnixNano", "endTimeUnixNano", "attributes",
                                             "droppedAttributesCount", "events", "droppedEventsCount", "links",
                                             "droppedLinksCount", "status"};
  std::set<std::string> ids;
  for (const auto& s : spans) {
    INFO(s.dump());
    for (const auto& [key, value] : s.items()) CHECK(span_fields.count(key) == 1);
    CHECK((s.at("kind").is_number_integer() && s.at("kind").get<int>() >= 0 && s.at("kind").get<int>() <= 5));
    CHECK(is_hex(s.at("traceId").get<std::string>(), 32));
    CHECK(is_hex(s.at("spanId").get<std::string>(), 16));
    CHECK(ids.insert(s.at("spanId").get<std::string>()).second);  // unique
    CHECK(!s.at("name").get<std::string>().empty());
    REQUIRE(is_decimal(s.at("startTimeUnixNano")));
    REQUIRE(is_decimal(s.at("endTimeUnixNano")));
    CHECK(std::stoull(s.at("startTimeUnixNano").get<std::string>()) <= std::stoull(s.at("endTimeUnixNano").get<std::string>()));
    CHECK(std::stoull(s.at("startTimeUnixNano").get<std::string>()) > 1'600'000'000'000'000'000ull);  // after 2020
    for (const auto& a : s.at("attributes")) {
      CHECK(a.at("key").is_string());
      const auto& v = a.at("value");
      REQUIRE(v.size() == 1);
      const auto kind = v.begin().key();
      CHECK((kind == "stringValue" || kind == "intValue" || kind == "boolValue" || kind == "doubleValue"));
      if (kind == "intValue") CHECK(is_decimal(v.at("intValue")));
    }
    if (s.contains("status")) CHECK((s.at("status").at("code") == 1 || s.at("status").at("code") == 2));
  }
  // Every parent is a span of the same trace, and holds its children in time.
  std::map<std::string, json> by_id;
  for (const auto& s : spans) by_id[s.at("spanId").get<std::string>()] = s;
  for (const auto& s : spans) {
    if (!s.contains("parentSpanId")) continue;
    INFO(s.dump());
    auto it = by_id.find(s.at("parentSpanId").get<std::string>());
    REQUIRE(it != by_id.end());
    CHECK(it->second.at("traceId") == s.at("traceId"));
    CHECK(std::stoull(it->second.at("startTimeUnixNano").get<std::string>()) <=
          std::stoull(s.at("startTimeUnixNano").get<std::string>()));
    CHECK(std::stoull(it->second.at("endTimeUnixNano").get<std::string>()) >=
          std::stoull(s.at("endTimeUnixNano").get<std::string>()));
  }
  return spans;
}

std::map<std::string, json> attrs(const json& span) {
  std::map<std::string, json> m;
  for (const auto& a : span.at("attributes")) m[a.at("key").get<std::string>()] = a.at("value").begin().value();
  return m;
}

// An OTLP/HTTP receiver on 127.0.0.1: POST /v1/traces with `status`, keeping each body.
class Receiver {
 public:
  explicit Receiver(int status = 200) {
    m_server.Post("/v1/traces", [this, status](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(m_mutex);
      m_bodies.push_back(req.body);
      m_types.push_back(req.get_header_value("Content-Type"));
      res.status = status;
      res.set_content(status == 200 ? "{}" : "{\"message\":\"bad spans\"}", "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    REQUIRE(m_port > 0);
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    while (!m_server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    m_server.stop();
    m_thread.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  std::vector<std::string> bodies() {
    std::lock_guard lock(m_mutex);
    return m_bodies;
  }
  std::vector<std::string> types() {
    std::lock_guard lock(m_mutex);
    return m_types;
  }

 private:
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  std::mutex m_mutex;
  std::vector<std::string> m_bodies, m_types;
};

ProcessResult fab_env(const FactoryFixture& f, const std::vector<std::string>& args, std::map<std::string, std::string> env) {
  ProcessSpec spec;
  spec.argv = {(bin_dir() / "fab").string(), "-C", f.root().string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = std::move(env);
  spec.timeout = std::chrono::minutes(1);
  auto r = run_process(spec);
  REQUIRE(r);
  return *r;
}

}  // namespace

TEST_CASE("fab trace exports a real run's attempts as OTLP/JSON, to a file and to a receiver", "[cli][trace]") {
  FactoryFixture f;
  // Two items add to one file (the second to land conflicts, the union resolver settles it); the
  // inspector fails every first attempt.
  const std::string agent = R"(echo "$FAB_ITEM_ID" >> shared.txt)";
  const std::string inspect = R"(echo "attempt $FAB_ATTEMPT"; test "$FAB_ATTEMPT" -ge 2)";
  const std::string refine = "refine:\n  - plugin: deterministic\n    with:\n      union: true\n";
  auto line = f.stamp(blueprint_yaml(agent, inspect, 2, 3, refine), requirement_md(2));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.ok());

  const auto file = f.root().parent_path() / "spans.json";
  auto traced = f.fab({"trace", line, "-o", file.string()});
  INFO(traced.err);
  REQUIRE(traced.ok());
  CHECK(traced.err.find("wrote ") != std::string::npos);
  const auto payload = json::parse(read_file(file));
  const auto spans = check_otlp(payload);

  std::vector<json> attempts, children;
  for (const auto& s : spans) (s.contains("parentSpanId") ? children : attempts).push_back(s);
  REQUIRE(attempts.size() == 4);  // two items, two attempts each
  std::set<std::string> traces;
  const auto record = f.line(line);
  bool refine_span = false, inspect_failed = false;
  for (const auto& a : attempts) {
    INFO(a.dump());
    CHECK(a.at("name") == "invoke_agent shell");
    auto at = attrs(a);
    CHECK(at.at("gen_ai.operation.name") == "invoke_agent");
    CHECK(at.at("gen_ai.agent.name") == "shell");
    CHECK(at.at("fab.line") == line);
    const auto* item = record.find(at.at("fab.item").get<std::string>());
    REQUIRE(item);
    CHECK(at.at("fab.change_id") == item->change->str());
    CHECK(is_hex(at.at("fab.jj_operation").get<std::string>(), at.at("fab.jj_operation").get<std::string>().size()));
    CHECK(at.at("fab.outcome") == (at.at("fab.attempt") == "1" ? "rework" : "merged"));
    CHECK(a.at("status").at("code") == (at.at("fab.attempt") == "1" ? 2 : 1));
    traces.insert(a.at("traceId").get<std::string>());
  }
  CHECK(traces.size() == 2);  // one trace per item
  for (const auto& c : children) {
    auto at = attrs(c);
    if (c.at("name") == "refine deterministic") refine_span = at.at("fab.path") == "shared.txt";
    if (c.at("name") == "inspect command" && c.at("status").at("code") == 2) inspect_failed = true;
  }
  CHECK(refine_span);
  CHECK(inspect_failed);
  CHECK(std::count_if(children.begin(), children.end(), [](const json& c) { return c.at("name") == "agent shell"; }) == 4);

  // Exporting again gives the same spans (the ids are hashes, not random).
  auto again = f.fab({"trace", line});
  REQUIRE(again.ok());
  CHECK(json::parse(again.out) == payload);
  // One item alone: its own two attempts.
  auto one = f.fab({"trace", line + ".1"});
  REQUIRE(one.ok());
  CHECK(check_otlp(json::parse(one.out)).size() < spans.size());

  SECTION("POSTed to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces") {
    Receiver receiver;
    auto sent = fab_env(f, {"trace", line}, {{"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint() + "/"}});
    INFO(sent.err);
    REQUIRE(sent.ok());
    CHECK(sent.out.empty());
    CHECK(sent.err.find("sent " + std::to_string(spans.size()) + " spans to " + receiver.endpoint() + "/v1/traces") !=
          std::string::npos);
    REQUIRE(receiver.bodies().size() == 1);
    CHECK(receiver.types().at(0) == "application/json");
    const auto received = json::parse(receiver.bodies().at(0));
    CHECK(check_otlp(received).size() == spans.size());
    CHECK(received == payload);
  }
  SECTION("a collector that refuses the spans, or none listening, is an error with a hint") {
    Receiver refusing(400);
    auto refused = fab_env(f, {"trace", line}, {{"OTEL_EXPORTER_OTLP_ENDPOINT", refusing.endpoint()}});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("Error: the collector at " + refusing.endpoint() + "/v1/traces answered HTTP 400") !=
          std::string::npos);
    CHECK(refused.err.find("Caused by: {\"message\":\"bad spans\"}") != std::string::npos);
    CHECK(refused.err.find("Hint: check OTEL_EXPORTER_OTLP_ENDPOINT") != std::string::npos);

    const int closed = free_port();  // nobody listens there
    auto nobody = fab_env(f, {"trace", line}, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + std::to_string(closed)}});
    CHECK(nobody.exit_code == 1);
    CHECK(nobody.err.find("Error: could not send the spans to http://127.0.0.1:") != std::string::npos);
    CHECK(nobody.err.find("Caused by: ") != std::string::npos);
    CHECK(nobody.err.find("Hint: ") != std::string::npos);
  }
  SECTION("an unknown line or item") {
    auto unknown = f.fab({"trace", "nosuchthing"});
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err.find("Error: no line or item nosuchthing") != std::string::npos);
  }
}

TEST_CASE("fab trace carries the usage an agent reported as gen_ai.usage attributes", "[cli][trace]") {
  FactoryFixture f;
  auto line = f.stamp("name: t\ntrunk: main\nagent:\n  plugin: " + fixture("usage").string() + "\n  with: { model: m }\nallow_empty: true\n",
                      requirement_md(1));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.err);
  REQUIRE(run.ok());
  REQUIRE(f.line(line).items.at(0).state == ItemState::merged);
  auto traced = f.fab({"trace", line + ".1"});
  REQUIRE(traced.ok());
  const auto spans = check_otlp(json::parse(traced.out));
  REQUIRE(spans.size() >= 2);
  bool attempt = false, agent = false;
  for (const auto& s : spans) {
    auto at = attrs(s);
    if (s.at("name") == "invoke_agent usage") {
      attempt = true;
      CHECK(at.at("gen_ai.usage.input_tokens") == "1200");
      CHECK(at.at("gen_ai.usage.output_tokens") == "300");
      CHECK(at.at("gen_ai.agent.name") == "usage");
    }
    if (s.at("name") == "agent usage") {
      agent = true;
      CHECK(at.at("fab.usage.input_tokens") == "1200");
      CHECK(at.at("fab.usage.cost_usd") == 0.0125);
      CHECK(at.count("gen_ai.usage.input_tokens") == 0);  // counted once, on the attempt's span
      CHECK(at.at("fab.summary") == "spent some tokens");
    }
  }
  CHECK(attempt);
  CHECK(agent);
}
