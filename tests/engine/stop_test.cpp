// Stopping `fab run` stops everything its agents started: after the grace period of `fab stop`, on a
// second stop signal, and when fab itself is killed with SIGKILL. The agent's command runs under the
// plugin child in a process group of its own, so killing fab's direct children is not enough.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include "tests/engine/engine_fixture.h"
#include "tests/support/processes.h"

using namespace fab;
using namespace fab::test;
using namespace std::chrono_literals;

namespace {

// An agent that starts `sleep 60` in the background, writes its pid to `pid_file` and waits for it.
std::string sleeping_agent(const std::filesystem::path& pid_file) {
  return "sleep 60 & echo $! > '" + pid_file.string() + "'; wait";
}

// The pid of the `fab run` holding the factory's run lock (waits up to 10 s for it).
pid_t fab_run_pid(const FactoryFixture& f) {
  for (int i = 0; i < 500; ++i) {
    if (const long pid = f.run_lock_pid(); pid > 0) return static_cast<pid_t>(pid);
    std::this_thread::sleep_for(20ms);
  }
  FAIL("no pid in " << f.root() / ".factory" / "run.lock");
  return 0;
}

}  // namespace

TEST_CASE("fab stop: after the grace period no process an agent started is left running", "[engine][stop]") {
  FactoryFixture f;
  const auto pid_file = f.root().parent_path() / "sleep.pid";
  auto line = f.stamp(blueprint_yaml(sleeping_agent(pid_file)), requirement_md(1));
  RunThread run(f, {"run", "--grace", "1"});
  const pid_t sleep_pid = std::stoi(wait_for_file(pid_file));
  auto stop = f.fab({"stop", "--wait"}, 60s);
  run.thread.join();
  INFO(run.result.err);
  CHECK(stop.ok());
  CHECK(run.result.ok());
  CHECK(run.result.err.find("grace period over") != std::string::npos);
  CHECK(gone_within(sleep_pid, 2s));
  CHECK(f.line(line).items.at(0).state == ItemState::queued);
}

TEST_CASE("a second stop signal stops fab run at once, and the agents' processes with it", "[engine][stop]") {
  FactoryFixture f;
  const auto pid_file = f.root().parent_path() / "sleep.pid";
  f.stamp(blueprint_yaml(sleeping_agent(pid_file)), requirement_md(1));
  RunThread run(f, {"run", "--grace", "60"});
  const pid_t sleep_pid = std::stoi(wait_for_file(pid_file));
  const pid_t fab_pid = fab_run_pid(f);
  REQUIRE(::kill(fab_pid, SIGTERM) == 0);
  std::this_thread::sleep_for(200ms);
  REQUIRE(::kill(fab_pid, SIGTERM) == 0);
  run.thread.join();
  INFO(run.result.err);
  CHECK(run.result.exit_code == 130);
  CHECK(run.result.err.find("second stop signal") != std::string::npos);
  CHECK(gone_within(sleep_pid, 2s));
}

TEST_CASE("fab run killed with SIGKILL takes the agents' processes with it", "[engine][stop]") {
  FactoryFixture f;
  const auto pid_file = f.root().parent_path() / "sleep.pid";
  f.stamp(blueprint_yaml(sleeping_agent(pid_file)), requirement_md(1));
  RunThread run(f, {"run"});
  const pid_t sleep_pid = std::stoi(wait_for_file(pid_file));
  REQUIRE(::kill(fab_run_pid(f), SIGKILL) == 0);
  run.thread.join();
  CHECK(run.result.signal == SIGKILL);
  // The plugin child hears SIGTERM when its parent dies, and stops the agent's process group.
  CHECK(gone_within(sleep_pid, 3s));
}
