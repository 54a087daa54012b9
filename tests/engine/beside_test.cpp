// Real runs with the world moving beside them (issue 11): a user committing to trunk with git while
// an item is in its agent call, its inspection, the refinery or landing; poison items beside good
// ones (an agent that deletes its workspace, one that fills the disk); a resolver that hangs beside
// an agent that finishes; a stop inside the grace period; real crashes of fab itself. Everything is
// real: jj and git in temp dirs, the fab binary, its plugins and their child processes. The agents,
// inspectors and resolvers block on file barriers (they write a "reached" file, then wait for a
// "go" file), so each test acts at exactly the phase it names.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/engine/engine_fixture.h"
#include "tests/support/processes.h"

using namespace fab;
using namespace fab::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBarrierRefinery = std::string(FAB_TEST_PLUGIN_DIR) + "/fab-plugin-barrier.so";

template <class F>
bool wait_until(F done, std::chrono::milliseconds limit = 60s, std::chrono::milliseconds every = 20ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return done();
    std::this_thread::sleep_for(every);
  }
  return true;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string git(const FactoryFixture& f, const std::vector<std::string>& args) {
  auto r = git_in(f.root(), args);
  INFO("git " << args.front() << ": " << r.err);
  REQUIRE(r.ok());
  return r.out;
}

// The user's git command, retried while a ref is locked for a moment (jj, run by fab, may be
// importing or exporting refs right then; git says so and the user simply runs it again).
std::string git_retrying(const FactoryFixture& f, const std::vector<std::string>& args) {
  ProcessResult r;
  for (int i = 0; i < 50; ++i) {
    r = git_in(f.root(), args);
    if (r.ok() || r.err.find("lock") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO("git " << args.front() << ": " << r.err);
  REQUIRE(r.ok());
  return r.out;
}

// A journal record's time ("2025-03-01T12:34:56.789Z") in milliseconds since the epoch.
long long epoch_ms(const std::string& iso) {
  std::tm tm{};
  int ms = 0;
  REQUIRE(std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &ms) == 7);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<long long>(::timegm(&tm)) * 1000 + ms;
}

const JournalRecord* transition_to(const std::vector<JournalRecord>& j, const std::string& item, const std::string& to) {
  for (const auto& r : j) {
    if (r.kind == "transition" && r.str("item") == item && r.str("to") == to) return &r;
  }
  return nullptr;
}

// `fab run` on a thread of its own whose stderr the test reads while it runs.
class LiveRun {
 public:
  LiveRun(const FactoryFixture& f, std::vector<std::string> args, std::chrono::milliseconds timeout = 3min) {
    m_thread = std::thread([this, &f, args, timeout] {
      ProcessSpec spec;
      spec.argv = {(bin_dir() / "fab").string(), "-C", f.root().string()};
      spec.argv.insert(spec.argv.end(), args.begin(), args.end());
      spec.env = f.env();
      spec.timeout = timeout;
      spec.on_output = [this](Stream s, std::string_view text) {
        if (s != Stream::err) return;
        std::lock_guard lock(m_mutex);
        m_err.append(text);
      };
      auto r = run_process(spec);
      std::lock_guard lock(m_mutex);
      if (r) m_result = *r;
      m_done = true;
    });
  }
  ~LiveRun() {
    if (m_thread.joinable()) {
      kill_all_children();
      m_thread.join();
    }
  }
  bool said(const std::string& text) const {
    std::lock_guard lock(m_mutex);
    return m_err.find(text) != std::string::npos;
  }
  bool done() const {
    std::lock_guard lock(m_mutex);
    return m_done;
  }
  const ProcessResult& join() {
    m_thread.join();
    return m_result;
  }

 private:
  mutable std::mutex m_mutex;
  std::string m_err;
  ProcessResult m_result;
  bool m_done = false;
  std::thread m_thread;
};

// A blueprint with the shell agent running `agent`, the command inspector `inspect` (if any) and
// the resolvers `refine` (YAML of the list's entries, if any).
std::string blueprint(const std::string& agent, const std::string& inspect, int slots, int rework_limit,
                      const std::string& refine = "", const std::string& more = "") {
  std::string y = "name: beside\ntrunk: main\nslots: " + std::to_string(slots) + "\nrework_limit: " +
                  std::to_string(rework_limit) + "\nagent:\n  plugin: shell\n  timeout: 120\n  with:\n    command: " +
                  nlohmann::json(agent).dump() + "\n";
  if (!inspect.empty()) {
    y += "inspect:\n  - plugin: command\n    timeout: 120\n    with:\n      command: " + nlohmann::json(inspect).dump() + "\n";
  }
  if (!refine.empty()) y += "refine:\n" + refine;
  return y + more;
}

// The barrier resolver: notes each call in `reached`, waits for `wait_for`, settles appends.
std::string barrier_refine(const fs::path& reached, const fs::path& wait_for, int max_wait_s, int timeout_s) {
  return "  - plugin: " + kBarrierRefinery + "\n    timeout: " + std::to_string(timeout_s) + "\n    with:\n      reached: " +
         nlohmann::json(reached.string()).dump() + "\n      wait_for: " + nlohmann::json(wait_for.string()).dump() +
         "\n      max_wait_s: " + std::to_string(max_wait_s) + "\n";
}

// The pid of the `fab run` holding the factory (waits for its run lock).
pid_t run_pid(const FactoryFixture& f) {
  long pid = 0;
  wait_until([&] { return (pid = f.run_lock_pid()) > 0; }, 30s);
  REQUIRE(pid > 0);
  return static_cast<pid_t>(pid);
}

// Nothing runs in the fixture's directory any more (what a fab that died left running, a jj call
// of its, has ended): the next command then sees the repo as it stays.
void wait_quiet(const FactoryFixture& f) {
  const auto prefix = fs::weakly_canonical(f.dir()).string();
  auto busy = [&] {
    for (const auto& e : fs::directory_iterator("/proc")) {
      const auto name = e.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos || std::stoi(name) == ::getpid()) continue;
      std::error_code ec;
      if (fs::read_symlink(e.path() / "cwd", ec).string().rfind(prefix, 0) == 0 && !ec) return true;
      std::ifstream in(e.path() / "cmdline", std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find(prefix) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(wait_until([&] { return !busy(); }, 30s, 50ms));
}

// Stamps a line from files outside the repo (none of them in the user's checkout).
std::string stamp_outside(const FactoryFixture& f, const std::string& blueprint, const std::string& requirement) {
  write_file(f.dir() / "bp.yaml", blueprint);
  write_file(f.dir() / "req.md", requirement);
  auto r = f.fab({"stamp", (f.dir() / "bp.yaml").string(), (f.dir() / "req.md").string(), "--json"});
  INFO(r.err);
  REQUIRE(r.ok());
  return nlohmann::json::parse(r.out).at("line").get<std::string>();
}

std::string trunk_file(const FactoryFixture& f) { return read_file(f.root() / ".factory" / "trunks.json"); }

std::string trunk_seen(const FactoryFixture& f) {
  auto j = nlohmann::json::parse(trunk_file(f), nullptr, false);
  if (!j.is_object() || !j.contains("main")) return {};
  return j["main"].value("commit", std::string{});
}

// --- 1. a real git user beside a run ----------------------------------------------------------------

// What the user has in their checkout: git's status, index, HEAD, and their own files.
struct UserCheckout {
  std::string status, index, head, notes, readme;
  bool operator==(const UserCheckout&) const = default;
};

UserCheckout user_checkout(const FactoryFixture& f) {
  return {git(f, {"status", "--porcelain=v1", "--untracked-files=all"}), git(f, {"ls-files", "--stage"}),
          git(f, {"rev-parse", "HEAD"}), read_file(f.root() / "NOTES.txt"), read_file(f.root() / "README")};
}

enum class Phase { agent, inspect, refine, land };

// The user, in their checkout: brings trunk up (`git checkout main`), commits a file of their own
// on it, and goes back to a detached HEAD at that commit — with HEAD on `main`, git itself would
// show every later landing of fab as staged deletions, for git moves no working tree when a branch
// moves under it; jj's own colocated checkouts are detached the same way. Then they go on working:
// a file never added, an edit not staged. Returns their commit.
std::string user_commits(const FactoryFixture& f) {
  git_retrying(f, {"checkout", "-q", "main"});
  write_file(f.root() / "user.txt", "the user's own work\n");
  git(f, {"add", "user.txt"});
  git_retrying(f, {"commit", "-q", "-m", "the user's commit"});
  git(f, {"checkout", "-q", "--detach"});
  write_file(f.root() / "NOTES.txt", "the user's notes, never added\n");
  write_file(f.root() / "README", "base\nedited by the user, not staged\n");
  return trimmed(git(f, {"rev-parse", "HEAD"}));
}

void user_beside(Phase phase) {
  FactoryFixture f({.git = true});
  const auto dir = f.dir();
  const auto go = dir / "go", log = dir / "inspections.log";
  const auto reached_agent = dir / "reached-agent", reached_inspect = dir / "reached-inspect",
             reached_refine = dir / "reached-refine";
  // Only the phase's barrier holds; the others find `go` there already.
  const bool blocks = phase != Phase::land;
  if (!blocks) write_file(go, "");
  const auto wait_go = "while [ ! -e " + q(go) + " ]; do sleep 0.05; done";
  // Items 1 and 2 append to one file (whichever lands second conflicts and goes to the resolver);
  // item 3 writes its own.
  const std::string agent = "case \"$FAB_ITEM_TITLE\" in\n"
                            "'Item 1'|'Item 2') echo \"$FAB_ITEM_ID\" >> shared.txt ;;\n"
                            "*) " +
                            (phase == Phase::agent ? "echo reached > " + q(reached_agent) + "; " + wait_go + "; " : std::string{}) +
                            "echo \"$FAB_ITEM_ID\" > \"own-$FAB_ITEM_ID.txt\" ;;\nesac";
  // Each inspection notes whether the user's commit is under what it judges.
  std::string inspect = "echo \"$FAB_ITEM_ID $(test -e user.txt && echo with || echo without)\" >> " + q(log);
  if (phase == Phase::inspect) {
    inspect += "; if [ \"$FAB_ITEM_TITLE\" = 'Item 3' ]; then echo reached > " + q(reached_inspect) + "; " + wait_go + "; fi";
  }
  inspect += "; true";
  // In the refinery phase item 3 waits for both others (nothing else lands while the user commits).
  std::string req = "# R\n\n## Item 1\n\nOne.\n\n## Item 2\n\nTwo.\n\n## Item 3\n\nThree.\n";
  if (phase == Phase::refine) req += "\nDepends on: Item 1, Item 2\n";
  // The resolver waits for `go` in the refinery phase only.
  const auto open = dir / "open";
  write_file(open, "");
  auto line = stamp_outside(
      f, blueprint(agent, inspect, 3, 3, barrier_refine(reached_refine, phase == Phase::refine ? go : open, 60, 120)), req);
  const auto ids = [&] {
    std::vector<std::string> v;
    for (const auto& i : f.line(line).items) v.push_back(i.id);
    return v;
  }();
  auto merged = [&](const std::vector<int>& which) {
    auto items = f.line(line).items;
    for (int i : which) {
      if (items.at(static_cast<std::size_t>(i)).state != ItemState::merged) return false;
    }
    return true;
  };

  LiveRun run(f, {"run", "--until-idle"});
  std::string user;
  std::string caught;  // the item whose phase the commit was made in
  switch (phase) {
    case Phase::agent:
    case Phase::inspect:
      // Item 3 is held in its agent call (or its first inspection); items 1 and 2 land meanwhile.
      wait_for_file(phase == Phase::agent ? reached_agent : reached_inspect, 90s);
      REQUIRE(wait_until([&] { return merged({0, 1}); }, 90s));
      REQUIRE(f.line(line).items.at(2).state == (phase == Phase::agent ? ItemState::building : ItemState::inspecting));
      caught = ids.at(2);
      break;
    case Phase::refine: {
      // The second of items 1 and 2 to land conflicts and is with the resolver.
      wait_for_file(reached_refine, 90s);
      for (const auto& i : f.line(line).items) {
        if (i.state == ItemState::refining) caught = i.id;
      }
      REQUIRE_FALSE(caught.empty());
      break;
    }
    case Phase::land: {
      // The deterministic hook: `.factory/crash-guard` names the item and the step fab is executing
      // (written before the step, removed after it). When it says "<item> land", the test stops
      // fab (SIGSTOP) inside that step and checks that trunk has not moved yet — git's main still
      // where fab last saw it (trunks.json, which fab writes right after moving jj's bookmark and
      // before exporting it to git). Then the user commits, and fab continues (SIGCONT) into its
      // compare-and-swap. A landing caught too late (trunk moved already) is let go, and the next
      // item's landing is tried.
      const pid_t pid = run_pid(f);
      const auto guard = f.root() / ".factory" / "crash-guard";
      for (int landing = 0; landing < 3 && user.empty(); ++landing) {
        std::string text;
        const bool seen = wait_until([&] {
          std::error_code ec;
          if (!fs::exists(guard, ec)) return false;
          text = read_file(guard);
          return text.find(" land\n") != std::string::npos && (caught.empty() || text.rfind(caught + " ", 0) != 0);
        }, 90s, 1ms);
        REQUIRE(seen);
        REQUIRE(::kill(pid, SIGSTOP) == 0);
        const std::string item = text.substr(0, text.find(' '));
        const bool still_there = fs::exists(guard) && read_file(guard) == text;
        const auto git_main = trimmed(git(f, {"rev-parse", "main"}));
        if (still_there && git_main == trunk_seen(f)) {
          caught = item;
          user = user_commits(f);
        } else {
          caught = item;  // (not this one again)
        }
        REQUIRE(::kill(pid, SIGCONT) == 0);
      }
      REQUIRE_FALSE(user.empty());
      break;
    }
  }
  if (user.empty()) {
    user = user_commits(f);
    // fab sees the user's commit (git's refs imported) while the item is held...
    CHECK(wait_until([&] { return trunk_seen(f) == user; }, 30s));
    // ... and the item goes on.
    write_file(go, "");
  }
  const auto left = user_checkout(f);
  const auto& r = run.join();
  INFO("run: " << r.describe() << "\n" << r.err);
  REQUIRE(r.ok());
  INFO("the user's phase: " << static_cast<int>(phase) << ", caught item " << caught << ", user's commit " << user);

  // Every item merged; git's trunk and jj's trunk are the same commit.
  for (const auto& i : f.line(line).items) {
    INFO(i.id << " " << to_string(i.state) << " " << i.drop_reason);
    CHECK(i.state == ItemState::merged);
  }
  const auto git_main = trimmed(git(f, {"rev-parse", "main"}));
  CHECK(f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"}) == git_main);
  CHECK(f.jj({"bookmark", "list", "main", "-T", "if(conflict, \"conflicted\\n\", \"\")"}).empty());
  // A straight line holding the user's commit and every merged item once.
  check_invariants(f, line);
  CHECK(f.jj({"log", "--no-graph", "-r", user + " & ::main", "-T", "commit_id"}) == user);
  CHECK(git_in(f.root(), {"merge-base", "--is-ancestor", user, "main"}).ok());
  CHECK(f.file_on_trunk("user.txt") == "the user's own work\n");
  CHECK(f.file_on_trunk("README") == "base\n");
  const auto shared = f.file_on_trunk("shared.txt");
  CHECK(shared.find(ids.at(0) + "\n") != std::string::npos);
  CHECK(shared.find(ids.at(1) + "\n") != std::string::npos);
  CHECK(f.file_on_trunk("own-" + ids.at(2) + ".txt") == ids.at(2) + "\n");
  // The user's checkout is as they left it: HEAD, index, status (the untracked file and the
  // unstaged edit, neither staged), their files.
  CHECK(user_checkout(f) == left);
  CHECK(left.status == " M README\n?? NOTES.txt\n");
  // Every item that landed on the user's commit was inspected on it (trunk moved while it was in
  // flight: it was inspected again on the new base), the item caught in the phase among them.
  std::map<std::string, std::string> last_inspection;
  {
    std::istringstream in(read_file(log));
    for (std::string l; std::getline(in, l);) last_inspection[l.substr(0, l.find(' '))] = l.substr(l.find(' ') + 1);
  }
  bool caught_above = false;
  for (const auto& i : f.line(line).items) {
    const bool above = !f.jj({"log", "--no-graph", "-r", "change_id(" + i.change->str() + ") & " + user + "::main", "-T",
                              "commit_id"})
                            .empty();
    INFO(i.id << (above ? " landed on the user's commit" : " landed under the user's commit"));
    if (above) CHECK(last_inspection[i.id] == "with");
    caught_above = caught_above || (above && i.id == caught);
  }
  CHECK(caught_above);
}

// --- 2. poison items beside good ones -----------------------------------------------------------------

// What must hold when a poison item (item 1) ran beside good ones: the run went on (exit 0), every
// good item landed with its file, the poison item did not land and its record names `what`.
void check_poison_run(const FactoryFixture& f, const std::string& line, const ProcessResult& run, const std::string& what) {
  INFO("run: " << run.describe() << "\n" << run.err);
  CHECK(run.ok());
  auto items = f.line(line).items;
  const Item& poison = items.at(0);
  std::string record = poison.drop_reason + "\n" + poison.feedback + "\n";
  for (const auto& r : f.journal(line)) {
    if (r.str("item") == poison.id) record += r.to_json().dump() + "\n";
  }
  INFO("the poison item's record:\n" << record);
  CHECK(poison.state == ItemState::dropped);
  CHECK(poison.drop_reason.find("failed 3 of 3 attempts") != std::string::npos);
  CHECK(record.find(what) != std::string::npos);
  for (std::size_t i = 1; i < items.size(); ++i) {
    INFO(items[i].id << " " << to_string(items[i].state) << " " << items[i].drop_reason);
    CHECK(items[i].state == ItemState::merged);
    CHECK(f.file_on_trunk("good-" + items[i].id + ".txt") == "good " + items[i].id + "\n");
  }
  check_invariants(f, line);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

// Item 1 runs `poison` (once the others have started); the others write their own file at once,
// then stay in flight beside it for a second. A good agent checks its write: while the poison
// holds the disk full, `echo` leaves an empty file and fails; an agent that exits 0 then has lost
// its own work, and fab rightly lands the empty file it left (this test failed so, 1 round in 8
// under load). It tries again until the disk has room (fab frees it when it fails the poison's
// attempt), within the agent's timeout.
std::string poison_agent(const std::string& poison) {
  return "case \"$FAB_ITEM_TITLE\" in\n'Item 1') sleep 0.3\n" + poison +
         "\n;;\n*) until echo \"good $FAB_ITEM_ID\" > \"good-$FAB_ITEM_ID.txt\"; do sleep 0.1; done; sleep 1 ;;\nesac";
}

}  // namespace

TEST_CASE("beside: a user's git commit on trunk while an item is in its agent call", "[engine][beside][git]") {
  user_beside(Phase::agent);
}

TEST_CASE("beside: a user's git commit on trunk while an item is inspected", "[engine][beside][git]") {
  user_beside(Phase::inspect);
}

TEST_CASE("beside: a user's git commit on trunk while an item's conflict is with the resolver", "[engine][beside][git]") {
  user_beside(Phase::refine);
}

TEST_CASE("beside: a user's git commit on trunk while an item is landing", "[engine][beside][git]") {
  user_beside(Phase::land);
}

// fab moved trunk but git refused to take it (its ref locked by a git that runs or died) and
// nobody moved git's branch: the item is merged, git's branch stays behind with a warning. Then the
// user commits on git's trunk: jj's bookmark is conflicted (fab's commit, the user's). Git never got
// fab's commit, so trunk goes to the user's commit and the item back to the queue: it lands again
// on top of the user's commit, inspected there (its inspector notes what it saw), and a conflict
// with the user's commit is the line's refinery's and then its agent's, as for any landing.
// What each inspection saw, from the inspector's log ("--" after each).
std::vector<std::string> split_inspections(const std::string& log) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t end; (end = log.find("--\n", at)) != std::string::npos; at = end + 3) out.push_back(log.substr(at, end - at));
  return out;
}

void export_refused_then_user_commits(bool conflicting) {
  FactoryFixture f({.git = true});
  const auto seen = f.dir() / "inspected";
  const std::string inspect = "{ cat shared.txt; [ -f user.txt ] && echo 'user.txt there'; echo --; } >> '" +
                              seen.string() + "'";
  auto first = stamp_outside(f, blueprint("echo fab > shared.txt", inspect, 1, 2), "# R\n\n## Item 1\n\nOne.\n");
  const auto lock = f.root() / ".git" / "refs" / "heads" / "main.lock";
  write_file(lock, "");
  auto run = f.fab({"run", "--until-idle"});
  INFO("first run: " << run.describe() << "\n" << run.err);
  REQUIRE(run.ok());
  fs::remove(lock);
  REQUIRE(f.line(first).items.at(0).state == ItemState::merged);
  CHECK(run.err.find("git refused to take it") != std::string::npos);
  const auto fab_commit = trunk_seen(f);
  REQUIRE(trimmed(git(f, {"rev-parse", "main"})) != fab_commit);  // git never got it
  CHECK(read_file(seen) == "fab\n--\n");

  // The user commits on git's trunk (HEAD is on main in their checkout).
  git(f, {"checkout", "-q", "main"});
  write_file(f.root() / (conflicting ? "shared.txt" : "user.txt"), "the user's own work\n");
  git(f, {"add", "-A"});
  git(f, {"commit", "-q", "-m", "the user's commit"});
  const auto user = trimmed(git(f, {"rev-parse", "HEAD"}));
  git(f, {"checkout", "-q", "--detach"});

  auto second = stamp_outside(f, blueprint("echo \"$FAB_ITEM_ID\" > \"own-$FAB_ITEM_ID.txt\"", "", 1, 1),
                              "# R\n\n## Item 1\n\nTwo.\n");
  auto again = f.fab({"run", "--until-idle"});
  INFO("second run: " << again.describe() << "\n" << again.err);
  REQUIRE(again.ok());
  const auto item = f.line(first).items.at(0);
  CHECK(again.err.find(item.id + " merged -> queued") != std::string::npos);
  CHECK(again.err.find("git never got its commit on main (the export was refused), and the user committed " +
                       user.substr(0, 12)) != std::string::npos);
  // Trunk: one commit in jj and git, no conflict anywhere on it, the user's commit under both items.
  CHECK(f.jj({"log", "--no-graph", "-r", "::bookmarks(exact:\"main\") & conflicts()", "-T", "commit_id"}).empty());
  CHECK(f.jj({"bookmark", "list", "main", "-T", "if(conflict, \"conflicted\\n\", \"\")"}).empty());
  CHECK(f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"}) == trimmed(git(f, {"rev-parse", "main"})));
  CHECK(git_in(f.root(), {"merge-base", "--is-ancestor", user, "main"}).ok());
  CHECK(f.jj({"log", "--no-graph", "-r", fab_commit + " & ::main", "-T", "commit_id"}).empty());
  CHECK(item.state == ItemState::merged);
  CHECK(f.jj({"log", "--no-graph", "-r", "change_id(" + item.change->str() + ") & ::main", "-T", "change_id ++ \"\\n\""})
            .size() == 33);
  const auto other = f.line(second).items.at(0);
  CHECK(other.state == ItemState::merged);
  CHECK(f.file_on_trunk("own-" + other.id + ".txt") == other.id + "\n");
  CHECK(f.file_on_trunk("shared.txt") == "fab\n");
  if (!conflicting) {
    CHECK(f.file_on_trunk("user.txt") == "the user's own work\n");
    // Inspected again, on top of the user's commit (each time: twice when the other item landed
    // first and moved trunk again).
    const auto inspections = split_inspections(read_file(seen));
    REQUIRE(inspections.size() >= 2);
    CHECK(inspections.front() == "fab\n");
    for (std::size_t i = 1; i < inspections.size(); ++i) CHECK(inspections[i] == "fab\nuser.txt there\n");
  } else {
    // The agent settled the conflict with the user's commit (it writes its file whole), and was
    // inspected on that.
    const auto inspections = split_inspections(read_file(seen));
    REQUIRE(inspections.size() >= 2);
    for (const auto& i : inspections) CHECK(i == "fab\n");
  }
}

TEST_CASE("beside: a trunk move git refused and a user's git commit after it: the item lands again on it and is inspected there",
          "[engine][beside][git]") {
  export_refused_then_user_commits(false);
}

TEST_CASE("beside: a trunk move git refused and a user's conflicting git commit after it: the item lands again and trunk holds no conflict",
          "[engine][beside][git]") {
  export_refused_then_user_commits(true);
}

TEST_CASE("beside: an agent that deletes its own workspace fails only its item and the good ones land",
          "[engine][beside][poison]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint(poison_agent("echo mine > mine.txt; cd .. && rm -rf \"$FAB_WORKSPACE\"; exit 0"),
                                "test -n \"$FAB_ITEM_ID\"", 2, 3),
                      requirement_md(4));
  auto run = f.fab({"run", "--until-idle"});
  check_poison_run(f, line, run, "the agent deleted its workspace");
}

TEST_CASE("beside: an agent that fills the disk (a 64 MiB tmpfs) fails only its item and the good ones land",
          "[engine][beside][poison][disk]") {
  // The repo and fab's state directory live in the fixture's temp dir (XDG_STATE_HOME inside it).
  // `fab run` runs in a private mount namespace where a 64 MiB tmpfs is mounted over that dir,
  // holding a copy of it; when the run ends, what the tmpfs holds is copied out and replaces the
  // dir, at the same paths, for the checks. The poison agent writes until ENOSPC, then exits 0.
  FactoryFixture f({.state_inside = true});
  auto line = f.stamp(blueprint(poison_agent("echo mine > mine.txt\nhead -c 200000000 /dev/zero > fill 2> fill.err; "
                                             "echo \"head: $? $(cat fill.err)\"; exit 0"),
                                "", 2, 3),
                      requirement_md(4));
  TempDir staging;
  const auto T = f.dir();
  const std::string script = R"(
T="$1"; IN="$2"; OUT="$3"; shift 3
cp -a "$T/." "$IN/" || exit 96
mount -t tmpfs -o size=64m fab-beside-test "$T" || { echo "the kernel refused a tmpfs in a private mount namespace" >&2; exit 97; }
cp -a "$IN/." "$T/" || exit 96
"$@"; rc=$?
df -k "$T" >&2
cp -a "$T/." "$OUT/" || exit 96
exit $rc
)";
  fs::create_directories(staging / "in");
  fs::create_directories(staging / "out");
  ProcessSpec spec;
  spec.argv = {"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", T.string(),
               (staging / "in").string(), (staging / "out").string(), (bin_dir() / "fab").string(), "-C",
               f.root().string(), "run", "--until-idle"};
  spec.env = f.env();
  spec.timeout = 3min;
  auto run = run_process(spec);
  REQUIRE(run);
  INFO(run->err);
  if (run->exit_code == 97 || run->exit_code == 96 || (run->exit_code == 1 && run->err.find("unshare:") == 0)) {
    FAIL("could not run fab on a small tmpfs in a private mount namespace (needs root and CAP_SYS_ADMIN):\n" << run->err);
  }
  // The tmpfs's contents replace the dir, at the same paths.
  for (const auto& e : fs::directory_iterator(T)) fs::remove_all(e.path());
  for (const auto& e : fs::directory_iterator(staging / "out")) fs::rename(e.path(), T / e.path().filename());
  check_poison_run(f, line, *run, "No space left on device");
}

TEST_CASE("beside: a resolver that hangs holds only its item: an agent that finishes meanwhile is harvested at once",
          "[engine][beside][refine]") {
  FactoryFixture f;
  const auto reached = f.dir() / "resolver-called", finished = f.dir() / "agent-finished";
  // Items 1 and 2 append to one file: the second to land conflicts, and its resolver hangs (60 s,
  // under a 120 s timeout). Item 3's agent finishes once the resolver is hanging, noting the time.
  const std::string agent = "case \"$FAB_ITEM_TITLE\" in\n'Item 3') while [ ! -s " + q(reached) +
                            " ]; do sleep 0.05; done; sleep 0.5; echo three > three.txt; date +%s%3N > " + q(finished) +
                            " ;;\n*) echo \"$FAB_ITEM_ID\" >> shared.txt ;;\nesac";
  auto line = f.stamp(blueprint(agent, "", 3, 2, barrier_refine(reached, f.dir() / "never", 60, 120)), requirement_md(3));
  LiveRun run(f, {"run", "--grace", "1"});
  const auto third = f.line(line).items.at(2).id;
  REQUIRE(wait_until([&] { return fs::exists(finished) && !read_file(finished).empty(); }, 90s));
  REQUIRE(wait_until([&] { return transition_to(f.journal(line), third, "merged") != nullptr; }, 30s));
  const long long done = std::stoll(read_file(finished));
  const auto j = f.journal(line);
  const long long harvested = epoch_ms(transition_to(j, third, "inspecting")->time);
  const long long landed = epoch_ms(transition_to(j, third, "merged")->time);
  INFO("agent finished at " << done << ", harvested +" << harvested - done << " ms, merged +" << landed - done << " ms");
  // Within about a second (a loaded 2-core machine gets some slack); waiting for the resolver
  // would take 60 s.
  CHECK(harvested - done < 5000);
  CHECK(landed - done < 5000);
  // The resolver is still hanging; a stop is honoured within the grace period all the same.
  bool refining = false;
  for (const auto& i : f.line(line).items) refining = refining || i.state == ItemState::refining;
  CHECK(refining);
  const auto stopped_at = std::chrono::steady_clock::now();
  auto stop = f.fab({"stop"});
  CHECK(stop.ok());
  const auto& r = run.join();
  INFO(r.err);
  CHECK(r.ok());
  CHECK(std::chrono::steady_clock::now() - stopped_at < 20s);
  CHECK(f.file_on_trunk("three.txt") == "three\n");
  check_invariants(f, line);
}

TEST_CASE("beside: a stop inside the grace period keeps the attempt and the next run carries it on",
          "[engine][beside][stop]") {
  FactoryFixture f;
  const auto count = f.dir() / "agent-calls", reached = f.dir() / "agent-started", go = f.dir() / "go";
  const std::string agent = "echo x >> " + q(count) + "; touch " + q(reached) + "; while [ ! -e " + q(go) +
                            " ]; do sleep 0.05; done; echo done > \"kept-$FAB_ITEM_ID.txt\"";
  auto line = f.stamp(blueprint(agent, "test -s \"kept-$FAB_ITEM_ID.txt\"", 2, 3), requirement_md(1));
  const auto item = f.line(line).items.at(0);
  LiveRun run(f, {"run", "--grace", "60"});
  wait_for_file(count, 90s);
  REQUIRE(wait_until([&] { return fs::exists(reached); }));
  REQUIRE(::kill(run_pid(f), SIGTERM) == 0);
  // fab is stopping (it said so), the agent still running; then the agent finishes, well inside the grace.
  REQUIRE(wait_until([&] { return run.said("fab: stopping"); }, 30s));
  write_file(go, "");
  const auto& r = run.join();
  INFO(r.err);
  CHECK(r.ok());
  CHECK(r.err.find("grace period over") == std::string::npos);
  // The attempt is kept: its files are in the change, its count spent once, the item past its agent.
  auto kept = f.line(line).items.at(0);
  CHECK(kept.state == ItemState::inspecting);
  CHECK(kept.attempts == 1);
  CHECK(f.jj({"file", "show", "-r", item.change->str(), "root-file:\"kept-" + item.id + ".txt\""}) == "done\n");
  // The next run carries it on (inspects and lands it) without calling the agent again.
  auto next = f.fab({"run", "--until-idle"});
  INFO(next.err);
  REQUIRE(next.ok());
  CHECK(next.err.find("carries on with " + item.id) != std::string::npos);
  auto landed = f.line(line).items.at(0);
  CHECK(landed.state == ItemState::merged);
  CHECK(landed.attempts == 1);
  CHECK(read_file(count) == "x\n");
  CHECK(f.file_on_trunk("kept-" + item.id + ".txt") == "done\n");
  check_invariants(f, line);
}

TEST_CASE("beside: a crash of fab (SIGSEGV) while it works on an item is counted but SIGKILL is not and two crashes drop it",
          "[engine][beside][crash]") {
  // How the crash guard works (engine/executor.cpp): while the executor carries out a step for an
  // item (snapshotting its workspace, inspecting, landing, ...), `.factory/crash-guard` names the
  // item and the step; a fatal signal's handler (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) appends
  // "crashed" to it before fab dies. The next run or `fab recover` counts a marked guard against
  // the item; an unmarked one (SIGKILL, the machine going down) counts nothing. Twice: dropped.
  //
  // Item 1's agent writes 4,000 files (new contents each attempt), so snapshotting its workspace
  // takes a while; the test stops fab (SIGSTOP) once the guard names that step, sends the signal,
  // and lets it go on (SIGCONT). (fab's state is in the fixture's dir, so the test can wait for
  // what a dead fab left running there to end.)
  FactoryFixture f({.state_inside = true});
  const std::string agent =
      "case \"$FAB_ITEM_TITLE\" in\n'Item 1') mkdir -p many && seq 1 4000 | awk -v n=\"$(date +%s%N)\" "
      "'{f = \"many/f\" $1; print n > f; close(f)}' ;;\n*) echo \"good $FAB_ITEM_ID\" > \"good-$FAB_ITEM_ID.txt\" ;;\nesac";
  auto line = f.stamp(blueprint(agent, "", 2, 3), requirement_md(2));
  const auto heavy = f.line(line).items.at(0).id;
  const auto guard = f.root() / ".factory" / "crash-guard";
  auto crash_in_snapshot = [&](int sig) {
    LiveRun run(f, {"run", "--until-idle"});
    const pid_t pid = run_pid(f);
    bool caught = false;
    for (int tries = 0; tries < 20 && !caught; ++tries) {
      REQUIRE(wait_until([&] {
        std::error_code ec;
        return fs::exists(guard, ec) && read_file(guard) == heavy + " take_agent\n";
      }, 90s, 1ms));
      REQUIRE(::kill(pid, SIGSTOP) == 0);
      caught = fs::exists(guard) && read_file(guard) == heavy + " take_agent\n";
      if (caught) REQUIRE(::kill(pid, sig) == 0);
      REQUIRE(::kill(pid, SIGCONT) == 0);
    }
    REQUIRE(caught);
    const auto& r = run.join();
    INFO(r.err);
    CHECK(r.signal == sig);
    wait_quiet(f);
  };
  auto crashes = [&] { return f.line(line).items.at(0).extra.value("crashes", 0); };

  // A crash: marked, counted once, the item back in the queue (the attempt not counted).
  crash_in_snapshot(SIGSEGV);
  CHECK(read_file(guard).find("crashed") != std::string::npos);
  auto first = f.fab({"recover"});
  INFO(first.out << first.err);
  REQUIRE(first.ok());
  CHECK(first.out.find(heavy + ": made fab crash while it worked on it (1 so far)") != std::string::npos);
  CHECK(crashes() == 1);
  CHECK(f.line(line).items.at(0).state == ItemState::queued);
  CHECK_FALSE(fs::exists(guard));

  // A kill at the very same point is not a crash: nothing counted.
  crash_in_snapshot(SIGKILL);
  CHECK(read_file(guard).find("crashed") == std::string::npos);
  auto killed = f.fab({"recover"});
  INFO(killed.out << killed.err);
  REQUIRE(killed.ok());
  CHECK(killed.out.find("made fab crash") == std::string::npos);
  CHECK(crashes() == 1);
  CHECK(f.line(line).items.at(0).state == ItemState::queued);

  // The second crash: the next run drops the item with the reason, and goes on.
  crash_in_snapshot(SIGSEGV);
  auto next = f.fab({"run", "--until-idle"});
  INFO(next.err);
  REQUIRE(next.ok());
  auto items = f.line(line).items;
  CHECK(items.at(0).state == ItemState::dropped);
  CHECK(items.at(0).drop_reason.find("it made fab crash 2 times") != std::string::npos);
  CHECK(items.at(1).state == ItemState::merged);
  CHECK(f.file_on_trunk("good-" + items.at(1).id + ".txt") == "good " + items.at(1).id + "\n");
  check_invariants(f, line);
}
