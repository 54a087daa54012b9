#pragma once
// A real factory in a temp dir (real jj), driven through the real fab binary and built-in plugins.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "substrate/process.h"
#include "tests/support/catch_fab.h"
#include "tests/support/temp_dir.h"
#include "workgraph/factory.h"

namespace fab::test {

// A blueprint with the shell agent running `agent` and, if given, the command inspector `inspect`.
inline std::string blueprint_yaml(const std::string& agent, const std::string& inspect = "", int slots = 2,
                                  int rework_limit = 3, const std::string& refine = "") {
  std::string y = "name: t\ntrunk: main\nslots: " + std::to_string(slots) + "\nrework_limit: " +
                  std::to_string(rework_limit) + "\nagent:\n  plugin: shell\n  timeout: 60\n  with:\n    command: " +
                  nlohmann::json(agent).dump() + "\n";
  if (!inspect.empty()) y += "inspect:\n  - plugin: command\n    with:\n      command: " + nlohmann::json(inspect).dump() + "\n";
  if (!refine.empty()) y += refine;
  return y;
}

// "## Item 1" .. "## Item n"; deps: item index (1-based) -> the index it depends on.
inline std::string requirement_md(int n, const std::map<int, int>& deps = {}) {
  std::string r = "# Requirement\n\n";
  for (int i = 1; i <= n; ++i) {
    r += "## Item " + std::to_string(i) + "\n\nDo part " + std::to_string(i) + ".\n";
    if (auto it = deps.find(i); it != deps.end()) r += "\nDepends on: Item " + std::to_string(it->second) + "\n";
    r += "\n";
  }
  return r;
}

// git as the user runs it in their checkout (the identity given, so it needs no config of theirs).
inline ProcessResult git_in(const std::filesystem::path& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c",
                             "init.defaultBranch=main", "-c", "advice.detachedHead=false"});
  auto r = run_process({.argv = args, .cwd = dir});
  REQUIRE(r);
  return *r;
}

struct FactoryOptions {
  bool git = false;          // `fab init` in a git repository (a colocated factory): the user's README committed
  bool state_inside = false; // fab's state directory (XDG_STATE_HOME) inside the fixture's temp dir, next to the repo
};

class FactoryFixture {
 public:
  explicit FactoryFixture(FactoryOptions options = {}) : m_root(m_dir / "factory") {
    std::filesystem::create_directories(m_root);
    write_file(m_root / "README", "base\n");
    if (options.state_inside) m_env["XDG_STATE_HOME"] = (m_dir / "state").string();
    if (options.git) {
      for (std::vector<std::string> args : {std::vector<std::string>{"init", "-q", "-b", "main", "."},
                                            {"add", "README"}, {"commit", "-q", "-m", "the user's first commit"}}) {
        auto r = git_in(m_root, args);
        INFO(r.err);
        REQUIRE(r.ok());
      }
    }
    auto init = fab({"init", "."});
    INFO(init.err);
    REQUIRE(init.ok());
  }
  const std::filesystem::path& root() const { return m_root; }
  // The temp dir holding the repo (root()), and with state_inside fab's state ("state/").
  const std::filesystem::path& dir() const { return m_dir.path(); }
  // The environment every fab() call adds.
  const std::map<std::string, std::string>& env() const { return m_env; }

  ProcessResult fab(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::minutes(3),
                    int timeout_signal = 15) const {
    ProcessSpec spec;
    spec.argv = {(bin_dir() / "fab").string(), "-C", m_root.string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = m_env;
    spec.timeout = timeout;
    spec.timeout_signal = timeout_signal;
    auto r = run_process(spec);
    REQUIRE(r);
    return *r;
  }

  // `fab run --until-idle`, which must succeed (its stderr is shown if not); what it printed.
  ProcessResult run_until_idle() const {
    auto run = fab({"run", "--until-idle"});
    INFO(run.err);
    REQUIRE(run.ok());
    return run;
  }

  // Stamps a line and returns its id (--again: tests stamp the same texts more than once).
  std::string stamp(const std::string& blueprint, const std::string& requirement) {
    write_file(m_root / "bp.yaml", blueprint);
    write_file(m_root / "req.md", requirement);
    auto r = fab({"stamp", "bp.yaml", "req.md", "--json", "--again"});
    INFO(r.err);
    REQUIRE(r.ok());
    return nlohmann::json::parse(r.out).at("line").get<std::string>();
  }

  Factory factory() const {
    auto f = Factory::open(m_root);
    REQUIRE(f);
    return std::move(*f);
  }
  LineRecord line(const std::string& id) const {
    auto rec = factory().store().load_line(id);
    REQUIRE(rec);
    return *rec;
  }
  std::vector<JournalRecord> journal(const std::string& id) const {
    auto f = factory();
    auto j = f.store().journal(id);
    REQUIRE(j);
    return *j;
  }
  // The line's refine logs, one per refining attempt that ran a refinery.
  std::vector<std::string> refine_logs(const std::string& line_id) const {
    std::vector<std::string> logs;
    for (const auto& e : std::filesystem::recursive_directory_iterator(m_root / ".factory" / "lines" / line_id)) {
      if (e.path().filename().string().ends_with(".refine.txt")) logs.push_back(read_file(e.path()));
    }
    return logs;
  }
  std::string jj(const std::vector<std::string>& args) const {
    auto r = factory().repo().run(args);
    REQUIRE(r);
    return r->out;
  }
  // Change ids on trunk, newest first.
  std::vector<std::string> trunk_changes() const {
    std::istringstream in(jj({"log", "--no-graph", "-r", "::main", "-T", "change_id ++ \"\\n\""}));
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) {
      if (!l.empty()) out.push_back(l);
    }
    return out;
  }
  // The pid the `fab run` holding the factory's run lock recorded there (0: none, or not yet).
  long run_lock_pid() const {
    const auto lock = m_root / ".factory" / "run.lock";
    std::error_code ec;
    if (!std::filesystem::exists(lock, ec)) return 0;
    auto j = nlohmann::json::parse(read_file(lock), nullptr, false);
    return j.is_object() ? j.value("pid", 0L) : 0;
  }
  // The repo's workspaces but fab's own seat (which lives as long as the factory).
  std::vector<std::string> workspaces() const {
    auto ws = factory().repo().workspaces();
    REQUIRE(ws);
    std::vector<std::string> names;
    for (auto& w : *ws) {
      if (w.name.rfind("fab-engineer-", 0) != 0) names.push_back(w.name);
    }
    return names;
  }
  // True when no directory of the agents' workspace pool is left (outside the tree, in the state dir).
  bool pool_empty() const {
    const auto dir = factory().workspaces_dir();
    std::error_code ec;
    return !std::filesystem::exists(dir, ec) || std::filesystem::is_empty(dir, ec);
  }
  std::string file_on_trunk(const std::string& path) const {
    return jj({"file", "show", "-r", "main", "root-file:\"" + path + "\""});
  }
  // Every file on trunk: path -> content.
  std::map<std::string, std::string> files_on_trunk() const {
    std::map<std::string, std::string> files;
    std::istringstream in(jj({"file", "list", "-r", "main"}));
    for (std::string p; std::getline(in, p);) {
      if (!p.empty()) files[p] = file_on_trunk(p);
    }
    return files;
  }

 private:
  TempDir m_dir;
  std::filesystem::path m_root;
  std::map<std::string, std::string> m_env;
};

// `fab run` on a thread of its own; if the test fails while it runs, it is stopped and joined.
struct RunThread {
  ProcessResult result;
  std::thread thread;
  RunThread(const FactoryFixture& f, std::vector<std::string> args,
            std::chrono::milliseconds timeout = std::chrono::minutes(2))
      : thread([this, &f, args, timeout] { result = f.fab(args, timeout); }) {}
  ~RunThread() {
    if (thread.joinable()) {
      kill_all_children();
      thread.join();
    }
  }
};

// The lines of `text` that look like jj's or git's conflict markers (written independently of the
// engine's own check).
inline std::vector<std::string> marker_lines(const std::string& text) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    for (const char* m : {"<<<<<<< ", ">>>>>>> ", "%%%%%%% ", "+++++++ ", "||||||| "}) {
      if (l.rfind(m, 0) == 0) found.push_back(l);
    }
    if (l == "=======") found.push_back(l);
  }
  return found;
}

// Checks what must hold after any run, finished or killed: no change twice on trunk, every merged
// item on trunk, and (trunk being a straight line) no merge commits.
inline void check_invariants(const FactoryFixture& f, const std::string& line_id) {
  auto trunk = f.trunk_changes();
  std::multiset<std::string> counted(trunk.begin(), trunk.end());
  auto rec = f.line(line_id);
  for (const auto& item : rec.items) {
    INFO(item.id << " " << to_string(item.state));
    REQUIRE(item.change);
    CHECK(counted.count(item.change->str()) <= 1);
    if (item.state == ItemState::merged) CHECK(counted.count(item.change->str()) == 1);
  }
  CHECK(f.jj({"log", "--no-graph", "-r", "::main & merges()", "-T", "change_id"}).empty());
}

}  // namespace fab::test
