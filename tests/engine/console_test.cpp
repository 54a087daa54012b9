// The console (engine/console.h) on a real factory after and during real `fab run`s: a real server
// on an ephemeral port of 127.0.0.1, asked with a real HTTP client; /events delivers a change after
// a real state change; steering only with the token.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/console.h"
#include "engine/console_api.h"
#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Item 1 writes its file; any item titled "Item 2" fails, saying why.
const std::string kAgent =
    R"(if [ "$FAB_ITEM_TITLE" = "Item 2" ]; then echo "cannot build item 2"; exit 1; fi; echo "$FAB_ITEM_ID" > "$FAB_ITEM_ID.txt")";

std::unique_ptr<engine::Console> serve(const FactoryFixture& f, bool steer = false) {
  auto c = engine::Console::start(f.factory(), {.port = 0, .allow_steer = steer});
  REQUIRE(c);
  REQUIRE((*c)->port() > 0);
  return std::move(*c);
}

json get_json(httplib::Client& client, const std::string& path, int status = 200) {
  auto r = client.Get(path.c_str());
  REQUIRE(r);
  INFO(path << " " << r->body);
  CHECK(r->status == status);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  return json::parse(r->body);
}

}  // namespace

TEST_CASE("the console's JSON API answers from a real factory after a run", "[engine][console]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAgent, "", 2, 1), requirement_md(2));
  auto run = f.run_until_idle();
  auto console = serve(f);
  CHECK(console->url() == "http://127.0.0.1:" + std::to_string(console->port()) + "/");
  CHECK(console->token().empty());
  httplib::Client client("127.0.0.1", console->port());

  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(page->body.find("<title>fab console</title>") != std::string::npos);
  CHECK(page->body.find("new EventSource(\"/events\")") != std::string::npos);

  auto lines = get_json(client, "/api/lines");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].at("id") == line);
  CHECK(lines[0].at("total") == 2);
  CHECK(lines[0].at("counts").at("merged") == 1);
  CHECK(lines[0].at("counts").at("dropped") == 1);
  CHECK(lines[0].at("counts").at("queued") == 0);

  auto items = get_json(client, "/api/lines/" + line + "/items").at("items");
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("state") == "merged");
  CHECK(items[0].at("drop_reason").is_null());
  CHECK(items[1].at("state") == "dropped");
  CHECK(items[1].at("attempts") == 1);
  CHECK(items[1].at("drop_reason").get<std::string>().find("failed 1 of 1 attempts") != std::string::npos);

  auto merged = get_json(client, "/api/items/" + line + "/" + line + ".1");
  CHECK(merged.at("state") == "merged");
  REQUIRE(merged.at("diff").is_string());
  CHECK(merged.at("diff").get<std::string>().find("+++ b/" + line + ".1.txt") != std::string::npos);
  REQUIRE(merged.at("attempt_records").size() == 1);
  CHECK(merged.at("attempt_records")[0].at("outcome") == "merged");
  CHECK(!merged.at("history").empty());

  auto dropped = get_json(client, "/api/items/" + line + "/" + line + ".2");
  CHECK(dropped.at("drop_reason").get<std::string>().find("failed 1 of 1 attempts") != std::string::npos);
  REQUIRE(dropped.at("transcript").is_string());
  CHECK(dropped.at("transcript").get<std::string>().find("cannot build item 2") != std::string::npos);
  REQUIRE(dropped.at("attempt_records").size() == 1);
  CHECK(dropped.at("attempt_records")[0].at("feedback").get<std::string>().find("cannot build item 2") != std::string::npos);

  auto missing = get_json(client, "/api/items/" + line + "/" + line + ".9", 404);
  CHECK(missing.at("error") == "line " + line + " has no item " + line + ".9");
  auto no_line = get_json(client, "/api/lines/nosuch/items", 404);
  CHECK(no_line.at("error").get<std::string>().find("nosuch") != std::string::npos);

  auto oplog = get_json(client, "/api/oplog?limit=500");
  bool caused = false;
  for (const auto& op : oplog) caused = caused || (op.at("line") == line && op.at("fab") == true);
  CHECK(caused);
  CHECK(get_json(client, "/api/oplog?limit=3").size() == 3);

  auto through = get_json(client, "/api/throughput");
  CHECK(through.at("merged") == 1);
  CHECK(through.at("dropped") == 1);
  REQUIRE(through.at("merged_per_minute").size() == 1);
  CHECK(through.at("merged_per_minute")[0].at("merged") == 1);
  CHECK(through.at("ms_in_state").at("building").get<std::int64_t>() > 0);

  // A request for another host name (a rebinding page's) is refused; localhost is fine.
  httplib::Client raw("127.0.0.1", console->port());
  auto rebound = raw.Get("/api/lines", {{"Host", "evil.example:" + std::to_string(console->port())}});
  REQUIRE(rebound);
  CHECK(rebound->status == 403);
  CHECK(rebound->body.find("answers only requests for 127.0.0.1:") != std::string::npos);
  auto local = raw.Get("/api/lines", {{"Host", "localhost:" + std::to_string(console->port())}});
  REQUIRE(local);
  CHECK(local->status == 200);

  // Read-only: steering is refused.
  CHECK(get_json(client, "/api/steer").at("allowed") == false);
  auto retry = client.Post(("/api/items/" + line + "/" + line + ".2/retry").c_str(), "{}", "application/json");
  REQUIRE(retry);
  CHECK(retry->status == 403);
  CHECK(json::parse(retry->body).at("hint") == "start the console with `fab serve --allow-steer`");
  CHECK(f.line(line).items.at(1).state == ItemState::dropped);
}

TEST_CASE("with --allow-steer, retry and stop need the console's token", "[engine][console][steer]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAgent, "", 2, 1), requirement_md(2));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  auto console = serve(f, true);
  const std::string token = console->token();
  REQUIRE(token.size() == 32);
  CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
  httplib::Client client("127.0.0.1", console->port());
  const std::string path = "/api/items/" + line + "/" + line + ".2/retry";

  auto none = client.Post(path.c_str(), "{}", "application/json");
  REQUIRE(none);
  CHECK(none->status == 403);
  auto wrong = client.Post(path.c_str(), {{"Authorization", "Bearer " + std::string(32, '0')}}, "{}", "application/json");
  REQUIRE(wrong);
  CHECK(wrong->status == 403);
  CHECK(f.line(line).items.at(1).state == ItemState::dropped);

  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  auto ok = client.Post(path.c_str(), auth, "{}", "application/json");
  REQUIRE(ok);
  INFO(ok->body);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body).at("retried").at(0).at("id") == line + ".2");
  CHECK(f.line(line).items.at(1).state == ItemState::queued);
  CHECK(f.line(line).items.at(1).attempts == 0);
  // The engine's refusal comes back as 409 with its message: a merged item cannot be retried.
  auto merged = client.Post(("/api/items/" + line + "/" + line + ".1/retry").c_str(), auth, "{}", "application/json");
  REQUIRE(merged);
  CHECK(merged->status == 409);
  CHECK(!json::parse(merged->body).at("error").get<std::string>().empty());

  auto stop = client.Post("/api/stop", auth, "{}", "application/json");
  REQUIRE(stop);
  CHECK(stop->status == 200);
  CHECK(json::parse(stop->body).at("running") == false);
  auto stop_refused = client.Post("/api/stop", "{}", "application/json");
  REQUIRE(stop_refused);
  CHECK(stop_refused->status == 403);
}

TEST_CASE("/events sends a change when a real run changes the factory", "[engine][console][sse]") {
  FactoryFixture f;
  const auto gate = f.root().parent_path() / "gate";
  // The agent waits for the gate, so the run's changes come after the stream is open.
  auto line = f.stamp(blueprint_yaml("while [ ! -f " + gate.string() + " ]; do sleep 0.1; done; echo x > x.txt"),
                      requirement_md(1));
  auto console = serve(f);

  std::mutex mutex;
  std::vector<std::string> events;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    httplib::Client client("127.0.0.1", console->port());
    client.set_read_timeout(std::chrono::seconds(120));
    std::string buffer;
    client.Get("/events", [&](const char* data, std::size_t n) {
      buffer.append(data, n);
      for (auto end = buffer.find("\n\n"); end != std::string::npos; end = buffer.find("\n\n")) {
        std::lock_guard lock(mutex);
        events.push_back(buffer.substr(0, end));
        buffer.erase(0, end + 2);
      }
      return !done.load();
    });
  });
  auto changes = [&] {
    std::lock_guard lock(mutex);
    return std::count_if(events.begin(), events.end(), [](const std::string& e) { return e.rfind("event: change\n", 0) == 0; });
  };
  auto wait_for = [&](auto pred, const char* what) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > until) {
        done = true;
        FAIL("timed out waiting for " << what);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  wait_for([&] { return changes() >= 1; }, "the first event (the factory's state when the stream opens)");
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  CHECK(changes() == 1);  // nothing changed: nothing more sent

  {
    RunThread run(f, {"run", "--until-idle"});
    wait_for([&] { return f.line(line).items.at(0).state == ItemState::building; }, "the item to build");
    wait_for([&] { return changes() >= 2; }, "an event after the item started building");
    write_file(gate, "go\n");
    run.thread.join();
    INFO(run.result.err);
    CHECK(run.result.ok());
  }
  CHECK(f.line(line).items.at(0).state == ItemState::merged);
  // The stream catches up with the merge: its last event carries the factory's mark as it is now.
  const std::string mark = engine::factory_mark(f.factory());
  wait_for([&] {
    std::lock_guard lock(mutex);
    return !events.empty() && events.back() == "event: change\ndata: {\"mark\":\"" + mark + "\"}";
  }, "an event with the mark after the merge");
  done = true;
  console->stop();  // ends the stream, so the reader returns
  reader.join();
}
