// `fab run`'s controls and the repairs around it: signals, --line, --slots, `fab recover` on a
// half-done factory, `fab recover --to` past a stamp, changes that vanished, interrupted stamps, and
// what inspectors leave behind in a workspace.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "tests/engine/engine_fixture.h"
#include "tests/support/processes.h"

using namespace fab;
using namespace fab::test;

namespace {

const std::string kAppendOwnFile = R"(mkdir -p items && echo "$FAB_ITEM_ID" >> "items/$FAB_ITEM_ID.txt")";

// Waits (up to 15 s) until `done` holds.
template <class F>
bool wait_for(F done) {
  for (int i = 0; i < 300; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

bool alive(long pid) { return pid > 0 && !process_gone(static_cast<pid_t>(pid)); }

int count_transitions(const std::vector<JournalRecord>& j, const std::string& item, const std::string& to) {
  int n = 0;
  for (const auto& r : j) n += (r.kind == "transition" && r.str("item") == item && r.str("to") == to) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("SIGTERM stops the floor after the grace period, the attempt not counted", "[engine][stop]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("sleep 60"), requirement_md(1));
  RunThread runner(f, {"run", "--grace", "1"});
  CHECK(wait_for([&] { return f.line(line).items.at(0).state == ItemState::building; }));
  const long pid = f.run_lock_pid();
  REQUIRE(alive(pid));
  ::kill(static_cast<pid_t>(pid), SIGTERM);
  runner.thread.join();
  const auto& run = runner.result;
  INFO(run.err);
  CHECK(run.ok());
  CHECK(run.err.find("stopping") != std::string::npos);
  CHECK(run.err.find("grace period over") != std::string::npos);
  auto item = f.line(line).items.at(0);
  CHECK(item.state == ItemState::queued);
  CHECK(item.attempts == 0);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

TEST_CASE("a second SIGINT stops at once, and the next run repairs and finishes", "[engine][stop]") {
  FactoryFixture f;
  // The first call hangs; the next one (after the repair) works.
  const auto marker = f.root().parent_path() / "hung-once";
  const std::string agent = "if [ ! -e '" + marker.string() + "' ]; then touch '" + marker.string() + "'; sleep 60; fi; " +
                            kAppendOwnFile;
  auto line = f.stamp(blueprint_yaml(agent), requirement_md(1));
  RunThread runner(f, {"run", "--grace", "30"});
  CHECK(wait_for([&] { return f.line(line).items.at(0).state == ItemState::building; }));
  // The agent is hanging (not merely about to start: on a loaded machine "building" is journaled
  // well before its shell runs, and an agent stopped before it made the marker would hang in the
  // next run instead).
  REQUIRE(wait_for([&] { return std::filesystem::exists(marker); }));
  const long pid = f.run_lock_pid();
  REQUIRE(alive(pid));
  ::kill(static_cast<pid_t>(pid), SIGINT);
  CHECK(wait_for([&] { return f.run_lock_pid() == pid; }));  // still there: the grace period runs
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(static_cast<pid_t>(pid), SIGINT);
  runner.thread.join();
  const auto& run = runner.result;
  INFO(run.err);
  CHECK(run.exit_code == 130);
  CHECK(run.err.find("second stop signal") != std::string::npos);
  CHECK_FALSE(run.timed_out);
  // The item was left building; the next run repairs that and finishes it.
  CHECK(f.line(line).items.at(0).state == ItemState::building);
  auto again = f.fab({"run", "--until-idle"});
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK(again.err.find("recovered") != std::string::npos);
  auto item = f.line(line).items.at(0);
  CHECK(item.state == ItemState::merged);
  CHECK(item.attempts == 1);  // the interrupted attempt was not counted
  check_invariants(f, line);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

TEST_CASE("fab run --line runs only that line", "[engine][floor]") {
  FactoryFixture f;
  auto first = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  auto second = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  auto run = f.fab({"run", "--until-idle", "--line", second});
  INFO(run.err);
  REQUIRE(run.ok());
  for (const auto& item : f.line(second).items) CHECK(item.state == ItemState::merged);
  for (const auto& item : f.line(first).items) CHECK(item.state == ItemState::queued);
  auto unknown = f.fab({"run", "--until-idle", "--line", "nosuch"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no line 'nosuch'") != std::string::npos);
}

TEST_CASE("fab run --slots caps the items building at once over all lines", "[engine][floor]") {
  FactoryFixture f;
  // Each agent notes when it starts and ends in one shared log outside the workspaces.
  const auto log = f.root().parent_path() / "agents.log";
  const std::string agent = "echo \"start $FAB_ITEM_ID\" >> '" + log.string() + "'; sleep 0.3; " + kAppendOwnFile +
                            "; echo \"end $FAB_ITEM_ID\" >> '" + log.string() + "'";
  auto a = f.stamp(blueprint_yaml(agent, "", 3), requirement_md(3));
  auto b = f.stamp(blueprint_yaml(agent, "", 3), requirement_md(3));
  auto run = f.fab({"run", "--until-idle", "--slots", "2"});
  INFO(run.err);
  REQUIRE(run.ok());
  for (const auto& line : {a, b}) {
    for (const auto& item : f.line(line).items) CHECK(item.state == ItemState::merged);
  }
  std::istringstream in(read_file(log));
  int running = 0, most = 0, starts = 0;
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("start ", 0) == 0) {
      ++starts;
      most = std::max(most, ++running);
    } else if (l.rfind("end ", 0) == 0) {
      --running;
    }
  }
  CHECK(starts == 6);
  CHECK(most == 2);  // two at once (both lines' blueprints would allow three each), never more
}

TEST_CASE("inspectors' leftovers in a workspace never land in an item's change", "[engine][floor][inspect]") {
  FactoryFixture f;
  // The inspector builds something in the workspace (untracked build output) and passes.
  const std::string inspect = R"(echo built > "build-$FAB_ITEM_ID.o"; test -s "items/$FAB_ITEM_ID.txt")";
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, inspect, 1), requirement_md(3));
  const auto before = f.files_on_trunk();
  auto run = f.run_until_idle();
  std::set<std::string> expected;
  for (const auto& [path, text] : before) expected.insert(path);
  for (const auto& item : f.line(line).items) {
    CHECK(item.state == ItemState::merged);
    expected.insert("items/" + item.id + ".txt");
  }
  std::set<std::string> on_trunk;
  for (const auto& [path, text] : f.files_on_trunk()) on_trunk.insert(path);
  CHECK(on_trunk == expected);
  check_invariants(f, line);
}

TEST_CASE("fab recover repairs what a killed run left half done", "[engine][recover]") {
  FactoryFixture f;
  const std::string agent = std::string(R"(if [ "$FAB_ATTEMPT" = 1 ]; then sleep 60; fi; )") + kAppendOwnFile;
  auto line = f.stamp(blueprint_yaml(agent, "", 2), requirement_md(2));
  RunThread runner(f, {"run"}, std::chrono::minutes(1));
  CHECK(wait_for([&] {
    auto items = f.line(line).items;
    return items.at(0).state == ItemState::building && items.at(1).state == ItemState::building;
  }));
  CHECK(wait_for([&] { return f.workspaces().size() == 3; }));
  const long pid = f.run_lock_pid();
  REQUIRE(alive(pid));
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  runner.thread.join();
  CHECK(runner.result.signal == SIGKILL);

  auto r = f.fab({"recover"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(r.out.find(line + ".1: building -> queued") != std::string::npos);
  CHECK(r.out.find(line + ".2: building -> queued") != std::string::npos);
  CHECK(r.out.find("forgot workspace fab-pool-") != std::string::npos);
  for (const auto& item : f.line(line).items) {
    CHECK(item.state == ItemState::queued);
    CHECK(item.attempts == 0);
  }
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
  CHECK(f.pool_empty());
  bool noted = false;
  for (const auto& rec : f.journal(line)) noted = noted || rec.kind == "recovery";
  CHECK(noted);
  // Once repaired, there is nothing left to do.
  auto again = f.fab({"recover"});
  CHECK(again.out == "nothing to repair\n");
}

TEST_CASE("fab recover --to an operation before a line's stamp is refused and changes nothing", "[engine][recover]") {
  FactoryFixture f;
  auto first = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(1));
  auto run = f.fab({"run", "--until-idle"});
  REQUIRE(run.ok());
  auto j = f.journal(first);
  std::string op;
  for (const auto& r : j) {
    if (r.kind == "transition" && r.str("to") == "merged") op = r.str("op");
  }
  REQUIRE_FALSE(op.empty());
  auto second = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  const auto ops_before = f.jj({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""});
  auto r = f.fab({"recover", "--to", op});
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("older than the stamp of line(s) " + second) != std::string::npos);
  CHECK(r.err.find("Hint:") != std::string::npos);
  CHECK(f.jj({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""}) == ops_before);
  // The factory still works.
  auto more = f.fab({"run", "--until-idle"});
  INFO(more.err);
  REQUIRE(more.ok());
  for (const auto& item : f.line(second).items) CHECK(item.state == ItemState::merged);
}

TEST_CASE("an item whose change was abandoned behind fab's back is dropped with the reason", "[engine][recover]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  const auto gone = f.line(line).items.at(0);
  f.jj({"abandon", gone.change->str()});
  auto run = f.run_until_idle();
  auto items = f.line(line).items;
  CHECK(items.at(0).state == ItemState::dropped);
  CHECK(items.at(0).drop_reason.find("is no longer in the repo") != std::string::npos);
  CHECK(items.at(1).state == ItemState::merged);
  check_invariants(f, line);
}

TEST_CASE("the changes of a stamp that died before recording its line are abandoned", "[engine][recover][stamp]") {
  FactoryFixture f;
  auto kept = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(1));
  // What a `fab stamp` killed between creating its changes and recording its line leaves: its
  // in-progress marker (nobody holds its lock any more) and changes named for a line that does
  // not exist.
  const std::string dead = "zzdead";
  auto repo = f.factory().repo();
  auto changes = repo.create_changes("main", {"Item 1\n\nfab-line: zzdead\nfab-item: zzdead.1\n",
                                              "Item 2\n\nfab-line: zzdead\nfab-item: zzdead.2\n"});
  REQUIRE(changes);
  std::filesystem::create_directories(f.root() / ".factory" / "stamping");
  write_file(f.root() / ".factory" / "stamping" / dead, "");
  auto r = f.fab({"recover"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(r.out.find("abandoned the 2 change(s) of line zzdead") != std::string::npos);
  CHECK(f.jj({"log", "--no-graph", "-r", "description(substring:\"fab-line: zzdead\")", "-T", "change_id"}).empty());
  CHECK_FALSE(std::filesystem::exists(f.root() / ".factory" / "stamping" / dead));
  // The recorded line is untouched.
  CHECK(f.line(kept).items.size() == 1);
  CHECK(f.jj({"log", "--no-graph", "-r", f.line(kept).items.at(0).change->str(), "-T", "change_id"}).size() == 32);
  // And a stamp after that works as usual (and leaves no marker behind).
  f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(1));
  CHECK(std::filesystem::is_empty(f.root() / ".factory" / "stamping"));
}

TEST_CASE("a stamp's marker being set up is left alone while its process lives, removed once it is dead",
          "[engine][recover][stamp]") {
  FactoryFixture f;
  const auto dir = f.root() / ".factory" / "stamping";
  std::filesystem::create_directories(dir);
  // A stamp between creating its temporary marker and locking it (the name ends in its pid):
  // this test's own process stands for it.
  const auto live = dir / fmt::format(".tmp-zzlive-{}", ::getpid());
  write_file(live, "");
  // One whose process has exited (a child that is gone and reaped).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  const auto gone = dir / fmt::format(".tmp-zzgone-{}", child);
  write_file(gone, "");
  auto r = f.fab({"recover"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(std::filesystem::exists(live));
  CHECK_FALSE(std::filesystem::exists(gone));
}

TEST_CASE("every merged item has exactly one merged transition in its journal", "[engine][floor]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, "", 4), requirement_md(8));
  auto run = f.run_until_idle();
  auto j = f.journal(line);
  for (const auto& item : f.line(line).items) {
    INFO(item.id);
    CHECK(item.state == ItemState::merged);
    CHECK(count_transitions(j, item.id, "merged") == 1);
  }
  check_invariants(f, line);
}

TEST_CASE("a queued item left on another item's change goes back onto trunk before it starts again",
          "[engine][recover]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  // What a merge chain cut short (or `fab recover --to` an operation in its middle) leaves: item 2,
  // which had started before, waiting in the queue on item 1's change.
  const auto first = f.line(line).items.at(0);
  const auto second = f.line(line).items.at(1);
  f.jj({"rebase", "-r", second.change->str(), "-o", first.change->str()});
  REQUIRE(f.factory().store().update_item(second.id, [](Item& i) { i.attempts = 1; }));
  auto r = f.fab({"recover"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(r.out.find(second.id + ": moved back onto main (it sat on another item's change)") != std::string::npos);
  CHECK(r.out.find(first.id + ":") == std::string::npos);  // never started: left where stamping put it
  CHECK(f.jj({"log", "--no-graph", "-r", "parents(" + second.change->str() + ")", "-T", "commit_id"}) ==
        f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"}));
  auto run = f.run_until_idle();
  for (const auto& item : f.line(line).items) CHECK(item.state == ItemState::merged);
  check_invariants(f, line);
}

TEST_CASE("a fab run left running keeps no workspace while idle and builds a line stamped meanwhile",
          "[engine][floor]") {
  FactoryFixture f;
  auto all_merged = [&](const std::string& line) {
    for (const auto& item : f.line(line).items) {
      if (item.state != ItemState::merged) return false;
    }
    return true;
  };
  auto first = f.stamp(blueprint_yaml(kAppendOwnFile, "", 2), requirement_md(2));
  RunThread runner(f, {"run"});
  REQUIRE(wait_for([&] { return all_merged(first); }));
  // Idle: the pool's workspaces are forgotten and their directories removed.
  CHECK(wait_for([&] { return f.workspaces() == std::vector<std::string>{"default"}; }));
  CHECK(wait_for([&] { return f.pool_empty(); }));
  REQUIRE(alive(f.run_lock_pid()));

  auto second = f.stamp(blueprint_yaml(kAppendOwnFile, "", 2), requirement_md(3));
  CHECK(wait_for([&] { return all_merged(second); }));
  CHECK(wait_for([&] { return f.workspaces() == std::vector<std::string>{"default"}; }));
  auto stop = f.fab({"stop", "--wait"});
  INFO(stop.err);
  CHECK(stop.ok());
  runner.thread.join();
  INFO(runner.result.err);
  CHECK(runner.result.ok());
  for (const auto& line : {first, second}) {
    for (const auto& item : f.line(line).items) {
      CHECK(f.file_on_trunk("items/" + item.id + ".txt") == item.id + "\n");
    }
  }
  CHECK(f.trunk_changes().size() >= 5);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

// kill -9 between moving trunk and journaling the item's merge (the record is the state change:
// workgraph/store.h): trunk holds the item, its journal says it is still refining. Made here by
// cutting that record off the journal.
TEST_CASE("fab recover finishes a merge whose record a kill prevented, once", "[engine][recover]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(2));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  const auto file = f.root() / ".factory" / "lines" / line / "journal.jsonl";
  std::istringstream in(read_file(file));
  std::vector<std::string> records;
  for (std::string l; std::getline(in, l);) records.push_back(l);
  std::size_t last_merge = records.size();
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].find("\"to\":\"merged\"") != std::string::npos) last_merge = i;
  }
  REQUIRE(last_merge < records.size());
  std::string cut;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i != last_merge) cut += records[i] + "\n";
  }
  write_file(file, cut);
  auto merged_records = [&](const std::string& item) {
    return count_transitions(f.journal(line), item, "merged");
  };
  const std::string lost_item = merged_records(line + ".1") == 0 ? line + ".1" : line + ".2";
  REQUIRE(merged_records(lost_item) == 0);

  auto r = f.fab({"recover"});
  INFO(r.out << r.err);
  REQUIRE(r.ok());
  CHECK(r.out.find(lost_item + ": refining -> merged: main already contains its change") != std::string::npos);
  for (const auto& item : f.line(line).items) {
    CHECK(item.state == ItemState::merged);
    CHECK(merged_records(item.id) == 1);
  }
  CHECK(f.fab({"recover"}).out == "nothing to repair\n");
  CHECK(merged_records(lost_item) == 1);
}

TEST_CASE("a trunk moved backwards halts landing until fab recover --accept-trunk, then what it lost lands again",
          "[engine][trunk]") {
  FactoryFixture f;
  // (An agent that writes its file whole: a requeued item's change keeps what it had, and its
  // agent goes on from there.)
  const std::string own_file = R"(mkdir -p items && echo "$FAB_ITEM_ID" > "items/$FAB_ITEM_ID.txt")";
  auto first = f.stamp(blueprint_yaml(own_file), requirement_md(2, {{2, 1}}));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  const auto item2 = f.line(first).items.at(1);
  REQUIRE(item2.state == ItemState::merged);
  // The user moves trunk back one commit, behind fab's back: item 2 is no longer on it.
  f.jj({"bookmark", "set", "main", "-r", "main-", "--allow-backwards"});
  auto second = f.stamp(blueprint_yaml(own_file), requirement_md(1));
  auto halted = f.fab({"run", "--until-idle"});
  INFO(halted.err);
  CHECK(halted.err.find("stopped landing on main: 'main' moved backwards since fab last landed on it") != std::string::npos);
  CHECK(halted.err.find("`fab recover --accept-trunk main`") != std::string::npos);
  CHECK(f.line(second).items.at(0).state != ItemState::merged);
  CHECK(f.line(first).items.at(1).state == ItemState::merged);  // (fab changes nothing on a halted trunk)
  // `fab status` says so after the run, and why (in its table's words and in --json).
  auto status = f.fab({"status"});
  INFO(status.out);
  REQUIRE(status.ok());
  CHECK(status.out.find("Trunk main is halted: nothing lands on it. 'main' moved backwards since fab last landed on it") !=
        std::string::npos);
  CHECK(status.out.find("`fab recover --accept-trunk main`") != std::string::npos);
  auto status_json = f.fab({"status", "--json"});
  REQUIRE(status_json.ok());
  std::istringstream json_lines(status_json.out);
  std::size_t lines_shown = 0;
  for (std::string l; std::getline(json_lines, l); ++lines_shown) {
    CHECK(nlohmann::json::parse(l).value("trunk_halted", "").find("moved backwards") != std::string::npos);
  }
  CHECK(lines_shown == 2);

  // So does `fab recover`, which changes nothing on a halted trunk.
  auto recover = f.fab({"recover"});
  INFO(recover.out << recover.err);
  CHECK(recover.ok());
  CHECK((recover.out + recover.err).find("'main' moved backwards since fab last landed on it") != std::string::npos);
  CHECK((recover.out + recover.err).find("`fab recover --accept-trunk main`") != std::string::npos);
  CHECK(f.line(first).items.at(1).state == ItemState::merged);

  auto both = f.fab({"recover", "--accept-trunk", "main", "--to", "@"});
  CHECK(both.exit_code == 2);  // one or the other
  auto accepted = f.fab({"recover", "--accept-trunk", "main"});
  INFO(accepted.out << accepted.err);
  REQUIRE(accepted.ok());
  CHECK(accepted.out.find(item2.id + ": merged -> queued") != std::string::npos);
  CHECK(f.line(first).items.at(1).state == ItemState::queued);
  auto after = f.fab({"status"});
  CHECK(after.out.find("halted") == std::string::npos);
  CHECK(f.fab({"status", "--json"}).out.find("trunk_halted") == std::string::npos);

  auto run = f.run_until_idle();
  for (const auto& line : {first, second}) {
    for (const auto& item : f.line(line).items) {
      CHECK(item.state == ItemState::merged);
      CHECK(f.file_on_trunk("items/" + item.id + ".txt") == item.id + "\n");
    }
  }
}
