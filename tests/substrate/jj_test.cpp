#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <thread>

#include "substrate/process.h"
#include "tests/substrate/jj_test_support.h"

using fab::ChangeId;
using fab::Repo;
using namespace fab::test;

TEST_CASE("ChangeId accepts only full k-z IDs", "[substrate][change_id]") {
  CHECK(ChangeId::parse("kmznlzoorlkrtvqrlyrkuqnpxrplqlzt"));
  auto short_one = ChangeId::parse("kmznlzoo");
  REQUIRE_FALSE(short_one);
  CHECK(short_one.error().message.find("8 characters") != std::string::npos);
  auto hex = ChangeId::parse("388d32c97ffe47f4b71f6d147650e6d3");
  REQUIRE_FALSE(hex);
  CHECK(hex.error().message.find("outside jj's alphabet") != std::string::npos);
  CHECK_FALSE(ChangeId::parse("KMZNLZOORLKRTVQRLYRKUQNPXRPLQLZT"));
  CHECK(ChangeId::is_prefix_shaped("kmz"));
  CHECK_FALSE(ChangeId::is_prefix_shaped("abc"));
}

TEST_CASE("a missing jj gives an error that points at scripts/bootstrap", "[substrate][runner]") {
  auto jj = fab::JjRunner::with_binary("/nonexistent/jj");
  REQUIRE_FALSE(jj);
  CHECK(jj.error().hint.find("scripts/bootstrap") != std::string::npos);

  const std::string real_jj = jj_for_tests().string();
  ::setenv("FAB_JJ", "/nonexistent/jj", 1);
  auto located = fab::JjRunner::locate();
  ::setenv("FAB_JJ", real_jj.c_str(), 1);
  REQUIRE_FALSE(located);
  CHECK(located.error().message.find("FAB_JJ") != std::string::npos);
  CHECK(located.error().hint.find("scripts/bootstrap") != std::string::npos);
}

TEST_CASE("a failing jj call names the command and carries jj's stderr", "[substrate][runner]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto r = repo.run({"log", "-r", "no_such_revision_xyz"});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("jj log -r no_such_revision_xyz") != std::string::npos);
  auto rendered = r.error().render();
  CHECK(rendered.find("no_such_revision_xyz") != std::string::npos);
  CHECK(rendered.find("Caused by:") != std::string::npos);
}

TEST_CASE("revsets of thousands of changes are cut in pieces that each fit one argument", "[substrate][runner]") {
  std::vector<std::string> terms;
  for (int i = 0; i < 10000; ++i) terms.push_back("present(" + std::string(32, "kmnopqrstuvwxyz"[i % 15]) + ")");
  const auto pieces = fab::revset_unions(terms);
  REQUIRE(pieces.size() > 1);
  std::size_t count = 0;
  for (const auto& p : pieces) {
    CHECK(p.size() <= 64 * 1024);
    count += static_cast<std::size_t>(std::count(p.begin(), p.end(), '|')) + 1;
  }
  CHECK(count == terms.size());
  CHECK(fab::revset_unions(std::vector<std::string>{}).empty());

  // What the pieces avoid: Linux refuses one argument over 128 KiB, and fab says so plainly
  // (not "run scripts/bootstrap", as if jj were missing).
  TempDir dir;
  auto repo = make_repo(dir);
  std::string all;
  for (const auto& t : terms) all += (all.empty() ? "" : "|") + t;
  auto r = repo.run({"log", "-r", all});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("command line") != std::string::npos);
  CHECK(r.error().message.find("too long") != std::string::npos);
  CHECK(r.error().hint.find("bootstrap") == std::string::npos);
}

TEST_CASE("batch creation makes distinct changes with their own descriptions", "[substrate][changes]") {
  const std::string method = GENERATE(as<std::string>{}, "auto", "duplicate");
  INFO("FAB_BATCH=" << method);
  BatchMethod forced(method);
  TempDir dir;
  auto repo = make_repo(dir);
  std::vector<std::string> descs;
  for (int i = 0; i < 37; ++i) descs.push_back("item " + std::to_string(i) + "\n\nfab-item: x." + std::to_string(i));
  // Descriptions travel through a jj template and TOML: nothing in them may be interpreted.
  descs[5] = "say \"hi\" \\ back\\slash {braces} ++ if(x, \"y\") $base\ttab\n\nünïcødé ✓";
  descs[36] = "last'one'";
  auto ops_before = repo.operations();
  REQUIRE(ops_before);
  auto ids = repo.create_changes("root()", descs);
  REQUIRE(ids);
  REQUIRE(ids->size() == descs.size());
  std::set<ChangeId> unique(ids->begin(), ids->end());
  CHECK(unique.size() == descs.size());
  for (std::size_t i = 0; i < descs.size(); ++i) {
    auto c = repo.commit((*ids)[i]);
    REQUIRE(c);
    CHECK(c->description == descs[i] + "\n");
    CHECK(c->empty);
  }
  auto ops_after = repo.operations();
  REQUIRE(ops_after);
  // auto: import + bookmark delete + export. duplicate: 1 new + ceil(log2(37)) = 6 duplicates.
  // Both far fewer than one per change.
  CHECK(ops_after->size() - ops_before->size() <= (method == "auto" ? 3u : 7u));
  CHECK(uses_import(*ops_after, ops_after->size() - ops_before->size()) == (method == "auto"));
}

TEST_CASE("change IDs survive describe, rebase and a conflicting rebase", "[substrate][changes]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"f.txt", "a\nb\nc\n"}}, "base");
  auto left = commit_files(repo, {{"f.txt", "a\nLEFT\nc\n"}}, "left");
  auto right = repo.create_change(base.str(), "right");
  REQUIRE(right);
  // Put content into `right` through a workspace.
  auto ws = dir / "ws-right";
  REQUIRE(repo.add_workspace("right", ws, *right));
  write_file(ws / "f.txt", "a\nRIGHT\nc\n");
  auto snap = repo.snapshot_workspace(ws);
  REQUIRE(snap);
  CHECK(snap->change_id == *right);
  CHECK_FALSE(snap->empty);

  REQUIRE(repo.describe(*right, "right, described"));
  CHECK(repo.commit(*right)->description == "right, described\n");

  auto conflicted = repo.rebase({*right}, left.str());
  REQUIRE(conflicted);
  REQUIRE(conflicted->size() == 1);
  CHECK(conflicted->front() == *right);
  auto after = repo.commit(*right);
  REQUIRE(after);
  CHECK(after->conflict);
  CHECK(after->change_id == *right);

  auto paths = repo.conflicted_paths(*right);
  REQUIRE(paths);
  CHECK(*paths == std::vector<std::string>{"f.txt"});
  auto sides = repo.conflict_sides(*right, "f.txt");
  REQUIRE(sides);
  CHECK(sides->base == "a\nb\nc\n");
  CHECK(sides->ours == "a\nLEFT\nc\n");
  CHECK(sides->theirs == "a\nRIGHT\nc\n");

  REQUIRE(repo.write_resolution(*right, "f.txt", "a\nLEFT\nRIGHT\nc\n"));
  auto resolved = repo.commit(*right);
  REQUIRE(resolved);
  CHECK_FALSE(resolved->conflict);
  CHECK(resolved->change_id == *right);
  CHECK(repo.conflicted_paths(*right)->empty());
  auto shown = repo.run({"file", "show", "-r", right->str(), "root-file:\"f.txt\""});
  REQUIRE(shown);
  CHECK(shown->out == "a\nLEFT\nRIGHT\nc\n");
}

TEST_CASE("a clean rebase reports no conflict", "[substrate][changes]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  auto other = commit_files(repo, {{"b.txt", "2\n"}}, "other");
  auto item = repo.create_change(base.str(), "item");
  REQUIRE(item);
  auto conflicted = repo.rebase({*item}, other.str());
  REQUIRE(conflicted);
  CHECK(conflicted->empty());
  auto c = repo.commit(*item);
  REQUIRE(c);
  REQUIRE(c->parents.size() == 1);
  CHECK(c->parents.front() == repo.commit(other)->commit_id);
}

TEST_CASE("short change ID prefixes are resolved by jj", "[substrate][change_id]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto id = repo.create_change("root()", "x");
  REQUIRE(id);
  auto resolved = repo.resolve_change(id->short_id(12));
  REQUIRE(resolved);
  CHECK(*resolved == *id);
  CHECK_FALSE(repo.resolve_change("zzzzzzzzzzzzkkkk"));
  CHECK_FALSE(repo.resolve_change("12ab"));
}

TEST_CASE("bookmarks are created, read and moved", "[substrate][bookmarks]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto none = repo.bookmark("main");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto a = commit_files(repo, {{"a", "1\n"}}, "a");
  auto b = commit_files(repo, {{"b", "2\n"}}, "b");
  REQUIRE(repo.set_bookmark("main", a.str()));
  CHECK((*repo.bookmark("main"))->change_id == a);
  REQUIRE(repo.set_bookmark("main", b.str()));
  CHECK((*repo.bookmark("main"))->change_id == b);
  CHECK_FALSE(repo.set_bookmark("main", a.str()));  // backwards needs allow_backwards
  REQUIRE(repo.set_bookmark("main", a.str(), true));
  CHECK((*repo.bookmark("main"))->change_id == a);
}

TEST_CASE("workspaces are isolated from each other", "[substrate][workspaces]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"shared.txt", "base\n"}}, "base");
  auto ids = repo.create_changes(base.str(), {"one", "two"});
  REQUIRE(ids);
  auto ws1 = dir / "factory" / "ws1";
  auto ws2 = dir / "factory" / "ws2";
  REQUIRE(repo.add_workspace("ws1", ws1, (*ids)[0]));
  REQUIRE(repo.add_workspace("ws2", ws2, (*ids)[1]));
  write_file(ws1 / "one.txt", "from one\n");
  write_file(ws2 / "two.txt", "from two\n");
  write_file(ws2 / "shared.txt", "changed by two\n");
  REQUIRE(repo.snapshot_workspace(ws1));
  REQUIRE(repo.snapshot_workspace(ws2));

  auto files_of = [&](const ChangeId& id) {
    auto o = repo.run({"file", "list", "-r", id.str()});
    REQUIRE(o);
    return o->out;
  };
  CHECK(files_of((*ids)[0]) == "one.txt\nshared.txt\n");
  CHECK(files_of((*ids)[1]) == "shared.txt\ntwo.txt\n");
  CHECK(read_file(ws1 / "shared.txt") == "base\n");
  CHECK_FALSE(std::filesystem::exists(ws1 / "two.txt"));

  auto list = repo.workspaces();
  REQUIRE(list);
  std::map<std::string, std::optional<ChangeId>> by_name;
  for (auto& w : *list) by_name[w.name] = w.target;
  CHECK(by_name.count("default") == 1);
  CHECK(by_name["ws1"] == (*ids)[0]);
  CHECK(by_name["ws2"] == (*ids)[1]);

  REQUIRE(repo.forget_workspace("ws1", ws1));
  CHECK_FALSE(std::filesystem::exists(ws1));
  auto after = repo.workspaces();
  REQUIRE(after);
  CHECK(after->size() == 2);
  // The change keeps its content after its workspace is gone.
  CHECK(files_of((*ids)[0]) == "one.txt\nshared.txt\n");
}

namespace {

// A workspace on an item change with c.txt snapshotted into it, made stale by rebasing the item
// onto another commit (holding b.txt) from outside.
struct StaleWorkspace {
  fab::Repo repo;
  fab::ChangeId item;
  std::filesystem::path ws;
};

StaleWorkspace make_stale_workspace(const TempDir& dir) {
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "a\n"}}, "base");
  auto other = commit_files(repo, {{"b.txt", "b\n"}}, "other");
  auto item = repo.create_change(base.str(), "item");
  REQUIRE(item);
  auto ws = dir / "ws";
  REQUIRE(repo.add_workspace("item", ws, *item));
  write_file(ws / "c.txt", "c\n");
  REQUIRE(repo.snapshot_workspace(ws));
  REQUIRE(repo.rebase({*item}, other.str()));  // rewrites the workspace's commit from outside
  return {repo, *item, ws};
}

}  // namespace

TEST_CASE("a stale workspace is updated without losing its change", "[substrate][workspaces]") {
  TempDir dir;
  auto [repo, item, ws] = make_stale_workspace(dir);
  CHECK_FALSE(repo.snapshot_workspace(ws));  // jj refuses: the workspace is stale
  REQUIRE(repo.update_stale_workspace(ws));
  auto snap = repo.snapshot_workspace(ws);
  REQUIRE(snap);
  CHECK(snap->change_id == item);
  CHECK(read_file(ws / "b.txt") == "b\n");
  CHECK(read_file(ws / "c.txt") == "c\n");
}

// jj brings a stale workspace up to date before an edit there and says where that left it, then
// where the edit did: the commit fab keeps for the workspace is the edit's (the first line named
// the workspace's old commit, a commit of another change).
TEST_CASE("an edit in a stale workspace returns the commit it checked out", "[substrate][workspaces]") {
  TempDir dir;
  auto [repo, item, ws] = make_stale_workspace(dir);
  auto next = repo.create_change("root()", "next");
  REQUIRE(next);
  auto edited = repo.edit_in_workspace(ws, *next);
  REQUIRE(edited);
  auto c = repo.commit(*next);
  REQUIRE(c);
  CHECK(*edited == c->commit_id);
}

TEST_CASE("edits made in a workspace after it went stale are not lost by update-stale", "[substrate][workspaces]") {
  TempDir dir;
  auto [repo, item, ws] = make_stale_workspace(dir);
  write_file(ws / "d.txt", "d\n");  // edited without a snapshot
  REQUIRE(repo.update_stale_workspace(ws));
  CHECK(read_file(ws / "b.txt") == "b\n");  // the workspace shows the rebased commit
  // jj records the late edit on top of the change as it was before the rebase, next to the rebased
  // one: the change is now divergent, and one of its two commits holds the edit. (The floor never
  // gets here: it snapshots a workspace before rewriting its change from outside.)
  auto commits = repo.query("change_id(" + item.str() + ")");
  REQUIRE(commits);
  CHECK(commits->size() == 2);
  int with_edit = 0;
  for (const auto& c : *commits) {
    auto o = repo.run({"file", "list", "-r", c.commit_id});
    REQUIRE(o);
    with_edit += o->out.find("d.txt") != std::string::npos ? 1 : 0;
  }
  CHECK(with_edit >= 1);
}

TEST_CASE("the bootstrap wrapper's loader line is run directly, anything else as is", "[substrate][runner]") {
  auto jj = fab::JjRunner::with_binary(jj_for_tests());
  REQUIRE(jj);
  const auto argv = jj->argv_for({"log"}, {});
  const auto wrapper = read_file(jj_for_tests());
  if (wrapper.find("# fab-exec: ") != std::string::npos) {
    CHECK(argv.at(0).find("ld-linux") != std::string::npos);
    CHECK(argv.at(1) == "--library-path");
    CHECK(std::filesystem::path(argv.at(3)).filename() == "jj");
  }
  // A script whose loader line names a missing file runs as itself (and still works).
  TempDir dir;
  const auto script = dir / "jj";
  write_file(script, "#!/bin/sh\n# fab-exec: /nonexistent/ld.so\t--library-path\t/x\t/nonexistent/jj\nexec '" +
                         jj_for_tests().string() + "' \"$@\"\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto plain = fab::JjRunner::with_binary(script);
  REQUIRE(plain);
  CHECK(plain->argv_for({"log"}, {}).at(0) == script.string());
  CHECK(plain->version().rfind("jj 0.", 0) == 0);
}

TEST_CASE("restoring an earlier operation undoes later ones and causes are recorded", "[substrate][oplog]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto before = repo.current_operation();
  REQUIRE(before);
  auto id = repo.with_cause("line ab item ab.1: queued -> building").create_change("root()", "later");
  REQUIRE(id);
  auto ops = repo.operations(3);
  REQUIRE(ops);
  REQUIRE(!ops->empty());
  CHECK(ops->front().cause == "line ab item ab.1: queued -> building");
  CHECK(ops->front().command.find("jj ") != std::string::npos);

  auto now = repo.current_operation();
  REQUIRE(now);
  CHECK(*now == ops->front().id);  // read from .jj's op heads, the same as jj's own answer

  REQUIRE(repo.restore_operation(*before));
  auto gone = repo.query(id->str());
  CHECK((!gone || gone->empty()));
  // Reading as of an operation sees the past.
  auto at = repo.query("all()", ops->front().id);
  REQUIRE(at);
  bool found = false;
  for (auto& c : *at) found = found || c.change_id == *id;
  CHECK(found);
}

TEST_CASE("two processes creating changes at the same moment both keep theirs", "[substrate][concurrency]") {
  const std::string method = GENERATE(as<std::string>{}, "auto", "duplicate");
  INFO("FAB_BATCH=" << method);
  BatchMethod forced(method);  // the tools inherit it
  TempDir dir;
  auto repo = make_repo(dir);
  auto tool = (bin_dir() / "substrate_create_changes").string();
  fab::Result<fab::ProcessResult> results[2];
  std::thread t1([&] { results[0] = fab::run_process({.argv = {tool, repo.root().string(), "alpha", "20"}}); });
  std::thread t2([&] { results[1] = fab::run_process({.argv = {tool, repo.root().string(), "beta", "20"}}); });
  t1.join();
  t2.join();
  for (auto& r : results) {
    REQUIRE(r);
    INFO(r->err);
    REQUIRE(r->ok());
  }
  auto alpha = repo.query("description(glob:\"alpha *\")");
  auto beta = repo.query("description(glob:\"beta *\")");
  REQUIRE(alpha);
  REQUIRE(beta);
  CHECK(alpha->size() == 20);
  CHECK(beta->size() == 20);
  CHECK(import_leftovers(repo).empty());
}

TEST_CASE("git_diffs gives each change's own diff in one call", "[substrate][changes]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto first = commit_files(repo, {{"a.txt", "1\n"}}, "first");
  auto second = commit_files(repo, {{"a.txt", "1\n2\n"}, {"b.txt", "b\n"}}, "second");
  auto empty = repo.create_change(second.str(), "nothing");
  REQUIRE(empty);
  auto diffs = repo.git_diffs({first, second, *empty});
  REQUIRE(diffs);
  REQUIRE(diffs->size() == 3);
  const auto& d1 = diffs->at(first.str());
  CHECK(d1.find("diff --git a/a.txt b/a.txt") != std::string::npos);
  CHECK(d1.find("+1\n") != std::string::npos);
  CHECK(d1.find("b.txt") == std::string::npos);
  const auto& d2 = diffs->at(second.str());
  CHECK(d2.find("+2\n") != std::string::npos);
  CHECK(d2.find("+1\n") == std::string::npos);  // unchanged context, not added
  CHECK(d2.find("diff --git a/b.txt b/b.txt") != std::string::npos);
  CHECK(diffs->at(empty->str()).empty());
  auto none = repo.git_diffs({});
  REQUIRE(none);
  CHECK(none->empty());
}

namespace {

// Two new changes on `parent` ("first" and "second"), the first checked out in a workspace "pool"
// under `dir`, where `file` is written and the workspace snapshotted into it.
struct PoolSnapshot {
  std::vector<ChangeId> ids;
  std::filesystem::path ws;
  std::string diff;  // the first change's own diff, as the snapshot read it
};

PoolSnapshot snapshot_in_pool(Repo& repo, const TempDir& dir, const std::string& parent, const std::string& file,
                              const std::string& content) {
  auto ids = repo.create_changes(parent, {"first", "second"});
  REQUIRE(ids);
  PoolSnapshot out{*ids, dir / "pool", ""};
  REQUIRE(repo.add_workspace("pool", out.ws, out.ids[0]));
  write_file(out.ws / file, content);
  auto snap = repo.snapshot_workspace(out.ws, &out.diff);
  REQUIRE(snap);
  CHECK(snap->change_id == out.ids[0]);
  return out;
}

}  // namespace

TEST_CASE("a diff that is not UTF-8 (a Latin-1 file) is read as its bytes, not refused", "[substrate][changes]") {
  // jj's json() cannot hold such a diff (it writes `<Error: invalid utf-8 ...>` instead); every read
  // of diffs must still give the bytes, as `jj diff --git` writes them.
  TempDir dir;
  auto repo = make_repo(dir);
  const std::string latin1 = "Fran\xe7ois\n";
  auto plain = commit_files(repo, {{"a.txt", "a\n"}}, "plain");
  auto odd = commit_files(repo, {{"names.txt", latin1}}, "latin-1");
  auto diffs = repo.git_diffs({plain, odd});
  REQUIRE(diffs);
  CHECK(diffs->at(plain.str()).find("+a\n") != std::string::npos);
  const auto& d = diffs->at(odd.str());
  CHECK(d.find("diff --git a/names.txt b/names.txt") != std::string::npos);
  CHECK(d.find("+" + latin1) != std::string::npos);
  CHECK(d.find("a.txt") == std::string::npos);

  const auto pool = snapshot_in_pool(repo, dir, odd.str(), "more.txt", "caf\xe9\n");
  CHECK(pool.diff.find("+caf\xe9\n") != std::string::npos);
  CHECK(pool.diff.find("names.txt") == std::string::npos);  // its own diff, not its parent's

  write_file(pool.ws / "more.txt", "caf\xe9\nna\xefve\n");
  auto read = repo.snapshot_and_read(pool.ws, 0, odd.str(), true);
  REQUIRE(read);
  REQUIRE(read->commits.size() == 2);
  CHECK(read->commits[0].change_id == pool.ids[0]);
  CHECK(read->commits[0].diff.value_or("").find("+na\xefve\n") != std::string::npos);
  CHECK_FALSE(read->commits[1].diff);  // outside the diff revset ("@")
  CHECK(read->commits[1].change_id == odd);
}

TEST_CASE("the repo root is found from any directory inside it", "[substrate][repo]") {
  TempDir dir;
  auto repo = make_repo(dir);
  std::filesystem::create_directories(repo.root() / "a" / "b");
  auto found = Repo::find_root(repo.root() / "a" / "b");
  REQUIRE(found);
  CHECK(*found == repo.root());
  auto outside = Repo::find_root(dir.path());
  REQUIRE_FALSE(outside);
  CHECK(outside.error().hint.find("fab init") != std::string::npos);
  auto opened = Repo::open(dir.path(), repo.jj());
  REQUIRE_FALSE(opened);
}

TEST_CASE("asking for the sides of a file that is not conflicted is an error", "[substrate][conflicts]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"f.txt", "a\n"}}, "base");
  auto sides = repo.conflict_sides(base, "f.txt");
  REQUIRE_FALSE(sides);
  CHECK(sides.error().message.find("f.txt") != std::string::npos);
  auto paths = repo.conflicted_paths(base);
  REQUIRE(paths);
  CHECK(paths->empty());
}

TEST_CASE("a workspace is reused for another change, even when stale, without touching the first",
          "[substrate][workspaces]") {
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "a\n"}}, "base");
  auto other = commit_files(repo, {{"b.txt", "b\n"}}, "other");
  const auto pool = snapshot_in_pool(repo, dir, base.str(), "one.txt", "one\n");
  const auto& ids = pool.ids;
  const auto& ws = pool.ws;
  CHECK(pool.diff.find("diff --git a/one.txt b/one.txt") != std::string::npos);
  CHECK(pool.diff.find("+one\n") != std::string::npos);
  REQUIRE(repo.rebase({ids[0]}, other.str()));  // the workspace is stale now
  REQUIRE(repo.edit_in_workspace(ws, ids[1]));
  CHECK_FALSE(std::filesystem::exists(ws / "one.txt"));
  write_file(ws / "two.txt", "two\n");
  auto second = repo.snapshot_workspace(ws);
  REQUIRE(second);
  CHECK(second->change_id == ids[1]);
  // The first change (described) was not abandoned and kept its content.
  auto first = repo.commit(ids[0]);
  REQUIRE(first);
  CHECK(first->description == "first\n");
  auto files = repo.run({"file", "list", "-r", ids[0].str()});
  REQUIRE(files);
  CHECK(files->out == "a.txt\nb.txt\none.txt\n");
}

// --- create_changes through git fast-import --------------------------------------------------------

namespace {

std::string trim_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A commit in the repo's git store that no ref and no jj change knows about.
std::string git_commit(const std::filesystem::path& git_dir, const std::string& message) {
  auto tree = trim_line(git(git_dir, {"mktree"}, std::string{}));
  return trim_line(git(git_dir, {"commit-tree", tree, "-m", message}));
}

}  // namespace

TEST_CASE("batch creation makes children of the parent, in order, empty, described as jj would",
          "[substrate][changes][import]") {
  REQUIRE_FALSE(fab::find_on_path("git").empty());
  const std::vector<std::string> descs{"first", "second\n", "", "third\n\nwith a body\n\n", "x\ty \"q\" \\"};
  // What jj itself makes of the descriptions (the fallback is `jj new -m` + `jj duplicate`).
  std::vector<std::string> jj_made;
  {
    BatchMethod forced("duplicate");
    TempDir dir;
    auto repo = make_repo(dir);
    auto ids = repo.create_changes("root()", descs);
    REQUIRE(ids);
    for (const auto& id : *ids) jj_made.push_back(repo.commit(id)->description);
  }
  CHECK(jj_made == std::vector<std::string>{"first\n", "second\n", "", "third\n\nwith a body\n\n", "x\ty \"q\" \\\n"});

  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  auto base_commit = repo.commit(base);
  REQUIRE(base_commit);
  for (const std::string& parent : {std::string("root()"), base.str()}) {
    INFO("parent " << parent);
    const auto parent_commit = parent == "root()" ? std::string(40, '0') : base_commit->commit_id;
    auto ops_before = repo.operations();
    REQUIRE(ops_before);
    auto ids = repo.create_changes(parent, descs);
    REQUIRE(ids);
    REQUIRE(ids->size() == descs.size());
    CHECK(std::set<ChangeId>(ids->begin(), ids->end()).size() == descs.size());
    for (std::size_t i = 0; i < descs.size(); ++i) {
      auto c = repo.commit((*ids)[i]);
      REQUIRE(c);
      CHECK(c->description == jj_made[i]);
      CHECK(c->parents == std::vector<std::string>{parent_commit});
      CHECK(c->empty);
      CHECK_FALSE(c->conflict);
      CHECK(c->bookmarks.empty());
    }
    auto ops_after = repo.operations();
    REQUIRE(ops_after);
    CHECK(ops_after->size() - ops_before->size() == 3);  // import, bookmark delete, export
    CHECK(uses_import(*ops_after, 3));
    CHECK(import_leftovers(repo).empty());
  }
  // One at a time goes the same way.
  auto one = repo.create_change(base.str(), "alone");
  REQUIRE(one);
  CHECK(repo.commit(*one)->description == "alone\n");
  CHECK(repo.commit(*one)->parents == std::vector<std::string>{base_commit->commit_id});
}

TEST_CASE("a stack: the last change on the parent, each other on the next, one head, and taking changes out closes it up",
          "[substrate][changes][import]") {
  REQUIRE_FALSE(fab::find_on_path("git").empty());
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  auto base_commit = repo.commit(base);
  REQUIRE(base_commit);
  const std::vector<std::string> descs{"one", "two", "two", "three", "four"};  // a repeat too
  auto ids = repo.create_stack(base.str(), descs);
  REQUIRE(ids);
  REQUIRE(ids->size() == descs.size());
  CHECK(std::set<ChangeId>(ids->begin(), ids->end()).size() == descs.size());
  auto parent_of = [&](const ChangeId& id) {
    auto c = repo.commit(id);
    REQUIRE(c);
    REQUIRE(c->parents.size() == 1);
    return c->parents.front();
  };
  for (std::size_t i = 0; i < descs.size(); ++i) {
    auto c = repo.commit((*ids)[i]);
    REQUIRE(c);
    CHECK(c->description == descs[i] + "\n");
    CHECK(c->empty);
    CHECK(parent_of((*ids)[i]) == (i + 1 == descs.size() ? base_commit->commit_id : repo.commit((*ids)[i + 1])->commit_id));
  }
  auto heads = repo.query("heads(" + base.str() + "::) ~ working_copies()");
  REQUIRE(heads);
  REQUIRE(heads->size() == 1);
  CHECK(heads->front().change_id == ids->front());
  CHECK(import_leftovers(repo).empty());

  // The top two start together, `separately`: each directly on the base (jj alone keeps the edge
  // between them), and what is left stays one stack.
  REQUIRE(repo.rebase_revisions({(*ids)[0], (*ids)[1]}, base.str(), /*separately=*/true));
  CHECK(parent_of((*ids)[0]) == base_commit->commit_id);
  CHECK(parent_of((*ids)[1]) == base_commit->commit_id);
  // One from the middle: the ones above it close up on the one below it.
  REQUIRE(repo.rebase_revisions({(*ids)[3]}, base.str(), true));
  CHECK(parent_of((*ids)[3]) == base_commit->commit_id);
  CHECK(parent_of((*ids)[2]) == repo.commit((*ids)[4])->commit_id);
  CHECK(parent_of((*ids)[4]) == base_commit->commit_id);
  for (const auto& id : *ids) CHECK(repo.commit(id)->empty);
  // Without `separately`, jj keeps an edge between two of them.
  REQUIRE(repo.rebase_revisions({(*ids)[2]}, (*ids)[0].str()));
  REQUIRE(repo.rebase_revisions({(*ids)[0], (*ids)[2]}, (*ids)[4].str()));
  CHECK(parent_of((*ids)[2]) == repo.commit((*ids)[0])->commit_id);
}

TEST_CASE("identical descriptions still give distinct changes", "[substrate][changes][import]") {
  const std::string method = GENERATE(as<std::string>{}, "auto", "duplicate");
  INFO("FAB_BATCH=" << method);
  BatchMethod forced(method);
  TempDir dir;
  auto repo = make_repo(dir);
  const std::vector<std::string> same(5, "same\n\nfab-item: x.1");
  auto first = repo.create_changes("root()", same);
  REQUIRE(first);
  // And the same batch again, at once, on the same parent: new changes again.
  auto second = repo.create_changes("root()", same);
  REQUIRE(second);
  std::set<ChangeId> all(first->begin(), first->end());
  all.insert(second->begin(), second->end());
  CHECK(all.size() == 10);
  for (const auto& id : all) {
    auto c = repo.commit(id);
    REQUIRE(c);
    CHECK(c->description == same[0] + "\n");
    CHECK(c->empty);
  }
  auto visible = repo.query("root()+ & description(glob:\"same*\")");
  REQUIRE(visible);
  CHECK(visible->size() == 10);
}

TEST_CASE("batch creation leaves no temporary bookmark or ref, and a later git import changes nothing",
          "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  REQUIRE(repo.set_bookmark("trunk", base.str()));
  std::vector<std::string> descs;
  for (int i = 0; i < 50; ++i) descs.push_back("item " + std::to_string(i));
  auto ids = repo.create_changes("trunk", descs);
  REQUIRE(ids);
  CHECK(import_leftovers(repo).empty());

  auto before = repo.query("all()");
  REQUIRE(before);
  auto imported = repo.run({"git", "import"});
  REQUIRE(imported);
  CHECK(imported->err.find("Nothing changed") != std::string::npos);
  auto after = repo.query("all()");
  REQUIRE(after);
  CHECK(after->size() == before->size());
  for (const auto& id : *ids) CHECK(repo.commit(id));
  // A bookmark fab moves afterwards is not undone by a later batch's import either.
  auto moved = commit_files(repo, {{"b.txt", "2\n"}}, "moved");
  REQUIRE(repo.set_bookmark("trunk", moved.str()));
  REQUIRE(repo.create_changes("trunk", {"on the moved trunk"}));
  CHECK((*repo.bookmark("trunk"))->change_id == moved);
  CHECK(import_leftovers(repo).empty());
}

TEST_CASE("leftovers of a crashed batch creation are cleaned up by the next one", "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  const auto gd = git_dir_of(repo);
  auto earlier = repo.create_changes("root()", {"earlier 1", "earlier 2"});
  REQUIRE(earlier);
  // Crashed after `jj git import`: a bookmark jj imported.
  git(gd, {"update-ref", "refs/heads/fab-import/y/1", git_commit(gd, "crashed after import")});
  // Crashed after `jj bookmark delete`, before `jj git export`: jj still records the git ref.
  git(gd, {"update-ref", "refs/heads/fab-import/z/1", git_commit(gd, "crashed before export")});
  REQUIRE(repo.run({"git", "import"}, {.cause = "test: a crashed import"}));
  REQUIRE(repo.run({"bookmark", "delete", "fab-import/z/1"}));
  // Crashed after fast-import, before `jj git import`: refs jj never saw, on commits only they reach.
  git(gd, {"update-ref", "refs/heads/fab-import/x/1", git_commit(gd, "crashed before import")});
  git(gd, {"update-ref", "refs/heads/fab-import/x/2", git_commit(gd, "crashed before import, 2")});
  CHECK_FALSE(import_leftovers(repo).empty());

  auto ids = repo.create_changes("root()", {"after the crash"});
  REQUIRE(ids);
  CHECK(repo.commit(ids->front())->description == "after the crash\n");
  CHECK(import_leftovers(repo).empty());
  // The earlier changes survive (the crashed call's imported ones too: they are changes now).
  for (const auto& id : *earlier) CHECK(repo.commit(id));
  for (const char* d : {"crashed after import", "crashed before export"}) {
    auto q = repo.query("description(exact:" + fab::revset_string(std::string(d) + "\n") + ")");
    REQUIRE(q);
    CHECK(q->size() == 1);
  }
  // What jj never saw never becomes a change.
  auto never = repo.query("description(glob:\"crashed before import*\")");
  REQUIRE(never);
  CHECK(never->empty());
  auto imported = repo.run({"git", "import"});
  REQUIRE(imported);
  CHECK(imported->err.find("Nothing changed") != std::string::npos);
  for (const auto& id : *earlier) CHECK(repo.commit(id));
  CHECK(repo.commit(ids->front()));
}

TEST_CASE("batch creation on a conflicted parent falls back to jj, which keeps the conflict",
          "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"f.txt", "a\n"}}, "base");
  commit_files(repo, {{"f.txt", "LEFT\n"}}, "left");
  auto right = commit_files(repo, {{"f.txt", "RIGHT\n"}}, "right");
  auto conflicted = repo.rebase({right}, base.str());
  REQUIRE(conflicted);
  REQUIRE(conflicted->size() == 1);
  auto ids = repo.create_changes(right.str(), {"on a conflict", "also"});
  REQUIRE(ids);
  for (const auto& id : *ids) {
    auto c = repo.commit(id);
    REQUIRE(c);
    CHECK(c->conflict);
    CHECK(c->empty);
    CHECK(c->parents == std::vector<std::string>{repo.commit(right)->commit_id});
  }
}

TEST_CASE("batch creation refuses a parent that is not one commit, and an unknown FAB_BATCH",
          "[substrate][changes][import]") {
  TempDir dir;
  auto repo = make_repo(dir);
  commit_files(repo, {{"a.txt", "1\n"}}, "a");
  {
    BatchMethod forced("");
    auto several = repo.create_changes("all()", {"x"});
    REQUIRE_FALSE(several);
    CHECK(several.error().message.find("all()") != std::string::npos);
    auto none = repo.create_changes("none()", {"x"});
    REQUIRE_FALSE(none);
    CHECK(none.error().message.find("0 commits") != std::string::npos);
  }
  {
    BatchMethod forced("fast");
    auto bad = repo.create_changes("root()", {"x"});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("FAB_BATCH") != std::string::npos);
  }
  auto ops = repo.query("description(exact:\"x\\n\")");
  REQUIRE(ops);
  CHECK(ops->empty());
}

TEST_CASE("a failing git fast-import names the command, carries git's message and creates nothing",
          "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  // A ref named refs/heads/fab-import leaves no room for refs/heads/fab-import/...
  REQUIRE(repo.set_bookmark("fab-import", base.str()));
  REQUIRE(repo.run({"git", "export"}));
  std::vector<std::string> descs;
  for (int i = 0; i < 12; ++i) descs.push_back("doomed " + std::to_string(i));
  auto r = repo.create_changes(base.str(), descs);
  REQUIRE_FALSE(r);
  INFO(r.error().render());
  CHECK(r.error().render().find("(and 2 more lines)") != std::string::npos);  // one per ref
  CHECK(r.error().render().find("git --git-dir=") != std::string::npos);
  CHECK(r.error().render().find("fast-import") != std::string::npos);
  CHECK(r.error().render().find("fab-import") != std::string::npos);
  auto doomed = repo.query("description(glob:\"doomed*\")");
  REQUIRE(doomed);
  CHECK(doomed->empty());
  CHECK(git(git_dir_of(repo), {"for-each-ref", "refs/heads/fab-import/"}).empty());
}

TEST_CASE("batch creation in a colocated repo leaves no temporary refs either", "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto colocated = make_colocated_repo(dir);
  auto* repo = &colocated;
  const auto root = repo->root();
  auto base = commit_files(*repo, {{"a.txt", "1\n"}}, "base");
  auto base_commit = repo->commit(base);
  REQUIRE(base_commit);
  auto ops_before = repo->operations();
  REQUIRE(ops_before);
  auto ids = repo->create_changes(base.str(), {"one", "two", "three"});
  REQUIRE(ids);
  CHECK(std::set<ChangeId>(ids->begin(), ids->end()).size() == 3);
  for (const auto& id : *ids) {
    auto c = repo->commit(id);
    REQUIRE(c);
    CHECK(c->parents == std::vector<std::string>{base_commit->commit_id});
    CHECK(c->empty);
  }
  auto ops_after = repo->operations();
  REQUIRE(ops_after);
  CHECK(uses_import(*ops_after, ops_after->size() - ops_before->size()));
  CHECK(import_leftovers(*repo, root / ".git").empty());
  auto imported = repo->run({"git", "import"});
  REQUIRE(imported);
  for (const auto& id : *ids) CHECK(repo->commit(id));
}

// Past `jj git import`, jj knows the new commits: a failure from there on must abandon them and
// remove the temporary refs. The failure is injected by a wrapper that runs the real jj for every
// call but one: the first whose arguments contain `fail_on`.
TEST_CASE("batch creation failing after jj imported its commits abandons them and leaves no refs",
          "[substrate][changes][import]") {
  BatchMethod forced("");
  TempDir dir;
  auto repo = make_repo(dir);
  auto base = commit_files(repo, {{"a.txt", "1\n"}}, "base");
  const auto heads_before = repo.query("visible_heads()");
  REQUIRE(heads_before);

  std::string fail_on, expected;
  SECTION("reading the new changes' IDs fails") {
    fail_on = "local_bookmarks";
    expected = "cannot read the new changes' IDs";
  }
  SECTION("removing the temporary bookmarks fails") {
    fail_on = "bookmark delete";
    expected = "cannot remove the new changes' temporary bookmarks";
  }
  SECTION("exporting (removing the temporary git refs) fails") {
    fail_on = "git export";
    expected = "cannot remove the new changes' temporary refs";
  }
  const auto marker = dir / "failed-once";
  const auto script = dir / "jj-failing-once";
  write_file(script, "#!/bin/sh\ncase \"$*\" in *'" + fail_on + "'*)\n  if [ ! -e '" + marker.string() +
                         "' ]; then : > '" + marker.string() +
                         "'; echo 'Error: injected failure' >&2; exit 1; fi ;;\nesac\nexec '" +
                         jj_for_tests().string() + "' \"$@\"\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto failing_jj = fab::JjRunner::with_binary(script);
  REQUIRE(failing_jj);
  auto failing = Repo::open(repo.root(), *failing_jj);
  REQUIRE(failing);

  auto r = failing->create_changes(base.str(), {"doomed 1", "doomed 2", "doomed 3"});
  REQUIRE(std::filesystem::exists(marker));  // the injected failure happened
  REQUIRE_FALSE(r);
  INFO(r.error().render());
  CHECK(r.error().render().find(expected) != std::string::npos);
  CHECK(r.error().render().find("injected failure") != std::string::npos);
  // All or nothing: no new change is visible, no temporary bookmark or ref is left.
  auto doomed = repo.query("description(glob:\"doomed*\")");
  REQUIRE(doomed);
  CHECK(doomed->empty());
  auto heads_after = repo.query("visible_heads()");
  REQUIRE(heads_after);
  CHECK(heads_after->size() == heads_before->size());
  CHECK(import_leftovers(repo).empty());
  // And the next batch works.
  auto ids = repo.create_changes(base.str(), {"fine 1", "fine 2"});
  REQUIRE(ids);
  CHECK(ids->size() == 2);
  CHECK(import_leftovers(repo).empty());
}

// `jj workspace add` can fail for a reason that is not the item's: in a colocated repo jj's ref
// transaction races an agent's `git commit` in its own worktree ("Could not delete empty packed
// refs"). add_workspace forgets what the failed call left and tries again. The failure is
// injected by a wrapper that runs the real `jj workspace add` (the workspace and its worktree are
// made) and then reports a failure, once; or, for the second section, every time.
TEST_CASE("a workspace add that fails is forgotten and tried again, and one that keeps failing leaves nothing",
          "[substrate][workspaces]") {
  // Both ways a colocated repo makes workspaces: with the machine's git (Debian 12's 2.39: no
  // worktree) and with scripts/bootstrap's (>= 2.54, first on PATH: each workspace a worktree).
  const bool new_git = GENERATE(false, true);
  struct RestorePath {
    std::string old = std::getenv("PATH") ? std::getenv("PATH") : "";
    ~RestorePath() { ::setenv("PATH", old.c_str(), 1); }
  } restore;
  if (new_git) {
    const auto bootstrap_git = jj_for_tests().parent_path() / "git";
    INFO("scripts/bootstrap installs git >= 2.54 as " << bootstrap_git.string());
    REQUIRE(std::filesystem::exists(bootstrap_git));
    ::setenv("PATH", (bootstrap_git.parent_path().string() + ":" + restore.old).c_str(), 1);
  }
  TempDir dir;
  auto colocated = make_colocated_repo(dir);
  auto* repo = &colocated;
  const auto root = repo->root();
  auto base = commit_files(*repo, {{"a.txt", "1\n"}}, "base");
  auto item = repo->create_change(base.str(), "item");
  REQUIRE(item);
  if (new_git) REQUIRE(repo->workspaces_get_git());

  const bool always = GENERATE(false, true);
  const auto marker = dir / "failed";
  const auto script = dir / "jj-add-fails";
  write_file(script, "#!/bin/sh\ncase \"$*\" in *'workspace add'*)\n  if " +
                         std::string(always ? "true" : "[ ! -e '" + marker.string() + "' ]") + "; then '" +
                         jj_for_tests().string() + "' \"$@\" || exit $?; echo x >> '" + marker.string() +
                         "'; echo 'Error: Could not commit packed-ref transaction (injected)' >&2; exit 1; fi ;;\nesac\nexec '" +
                         jj_for_tests().string() + "' \"$@\"\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto failing_jj = fab::JjRunner::with_binary(script);
  REQUIRE(failing_jj);
  auto failing = Repo::open(root, *failing_jj);
  REQUIRE(failing);

  const auto ws = dir / "pool" / "ws";
  auto added = failing->add_workspace("pool-1", ws, *item);
  REQUIRE(std::filesystem::exists(marker));  // the injected failure happened
  auto list = repo->workspaces();
  REQUIRE(list);
  const auto named = std::count_if(list->begin(), list->end(), [](const auto& w) { return w.name == "pool-1"; });
  const std::string worktrees = repo->workspaces_get_git() ? git(root / ".git", {"worktree", "list", "--porcelain"}) : "";
  INFO("git worktree list:\n" << worktrees);
  if (!always) {
    REQUIRE(added);
    CHECK(read_file(marker) == "x\n");  // one failure, then a call that worked
    CHECK(named == 1);
    auto snap = repo->snapshot_workspace(ws);
    REQUIRE(snap);
    CHECK(snap->change_id == *item);
    CHECK(read_file(ws / "a.txt") == "1\n");
    if (repo->workspaces_get_git()) {
      CHECK(std::filesystem::is_regular_file(ws / ".git"));  // its own worktree, made once
      CHECK(worktrees.find("worktree " + ws.string() + "\n") != std::string::npos);
    }
  } else {
    REQUIRE_FALSE(added);
    CHECK(read_file(marker) == "x\nx\nx\n");  // three tries, no more
    CHECK(added.error().render().find("injected") != std::string::npos);
    // Nothing of the three tries is left: no workspace, no directory, no worktree.
    CHECK(named == 0);
    CHECK_FALSE(std::filesystem::exists(ws));
    CHECK(worktrees.find(ws.string()) == std::string::npos);
  }
  // A workspace of that name elsewhere is not forgotten by a failing add of another directory.
  if (!always) {
    const auto ws2 = dir / "pool2" / "ws";
    auto again = repo->add_workspace("pool-1", ws2, *item);
    CHECK_FALSE(again);
    auto still = repo->workspaces();
    REQUIRE(still);
    CHECK(std::count_if(still->begin(), still->end(), [](const auto& w) { return w.name == "pool-1"; }) == 1);
    CHECK(std::filesystem::exists(ws / "a.txt"));
  }
}
