// `fab serve` as the user runs it: the real binary on a port of 127.0.0.1, asked over HTTP while it
// runs, stopped with Ctrl-C (SIGINT); a port in use is an error with a hint.
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/engine/engine_fixture.h"
#include "tests/support/ports.h"

using namespace fab;
using namespace fab::test;
using nlohmann::json;


TEST_CASE("fab serve answers on 127.0.0.1 until Ctrl-C", "[cli][serve]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("echo x > x.txt"), requirement_md(1));
  const int port = free_port();
  // SIGINT after 4 s, as Ctrl-C would; meanwhile the test asks it over HTTP.
  ProcessResult served;
  std::thread server([&] { served = f.fab({"serve", "--port", std::to_string(port)}, std::chrono::seconds(6), SIGINT); });
  struct Join {
    std::thread& t;
    ~Join() {
      if (t.joinable()) t.join();
    }
  } join{server};
  httplib::Client client("127.0.0.1", port);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto lines = client.Get("/api/lines");
  while (!lines && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    lines = client.Get("/api/lines");
  }
  if (!lines) {
    server.join();
    FAIL("no answer on port " << port << "; fab serve said: " << served.out << served.err);
  }
  CHECK(lines->status == 200);
  CHECK(json::parse(lines->body).at(0).at("id") == line);
  auto items = client.Get(("/api/lines/" + line + "/items").c_str());
  REQUIRE(items);
  CHECK(json::parse(items->body).at("items").at(0).at("state") == "queued");
  server.join();
  INFO(served.err);
  CHECK(served.signal == 0);  // it stopped by itself on SIGINT
  CHECK(served.out == "http://127.0.0.1:" + std::to_string(port) + "/\n");
  CHECK(served.err.find("serving the console; Ctrl-C stops it") != std::string::npos);
  CHECK(served.err.find("stopped") != std::string::npos);
}

TEST_CASE("fab serve --allow-steer prints its token, and a port in use is refused", "[cli][serve]") {
  FactoryFixture f;
  const int port = free_port();
  auto steer = f.fab({"serve", "--port", std::to_string(port), "--allow-steer"}, std::chrono::seconds(2), SIGINT);
  INFO(steer.err);
  CHECK(steer.signal == 0);
  CHECK(std::regex_match(steer.out, std::regex("http://127\\.0\\.0\\.1:" + std::to_string(port) + "/#token=[0-9a-f]{32}\n")));
  CHECK(steer.err.find("steering is on: POST requests need `Authorization: Bearer ") != std::string::npos);

  SECTION("a port another program holds") {
    HeldPort holder(port);
    auto busy = f.fab({"serve", "--port", std::to_string(port)}, std::chrono::seconds(20));
    CHECK(busy.exit_code == 1);
    CHECK(busy.err.find("Error: could not listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(busy.err.find("Hint: another program may use that port") != std::string::npos);
  }
  SECTION("a port another fab serve holds (no sharing it through SO_REUSEPORT)") {
    ProcessResult first;
    std::thread t([&] { first = f.fab({"serve", "--port", std::to_string(port)}, std::chrono::seconds(4), SIGINT); });
    httplib::Client client("127.0.0.1", port);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (!client.Get("/api/steer") && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto second = f.fab({"serve", "--port", std::to_string(port)}, std::chrono::seconds(20));
    t.join();
    CHECK(first.err.find("serving the console") != std::string::npos);
    CHECK(second.exit_code == 1);
    CHECK(second.err.find("Error: could not listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
  }
}
