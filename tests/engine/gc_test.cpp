// `fab gc` (engine/gc.h) and what `fab recover --to` may rely on afterwards (engine/op_retention.h),
// on real factories run by the real fab binary.
#include <catch2/catch.hpp>

#include <sstream>
#include <thread>

#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;

namespace {

const std::string kOwnFile = R"(mkdir -p items && echo "$FAB_ITEM_ID" > "items/$FAB_ITEM_ID.txt")";

std::vector<std::string> op_ids(const FactoryFixture& f, const std::string& what = "id") {
  std::istringstream in(f.jj({"op", "log", "--no-graph", "-T", what + " ++ \"\\n\""}));
  std::vector<std::string> ids;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) ids.push_back(l);
  }
  return ids;
}

// The operations from the one the default workspace's working copy was last updated at (fab never
// moves it) down to the root: these stay as they are.
std::vector<std::string> working_copy_and_older(const FactoryFixture& f) {
  auto op = f.factory().repo().working_copy_operation(f.root());
  REQUIRE(op);
  auto ids = op_ids(f);
  auto at = std::find(ids.begin(), ids.end(), *op);
  REQUIRE(at != ids.end());
  return {at, ids.end()};
}

std::vector<std::string> head(const std::vector<std::string>& v, std::size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(std::min(n, v.size()))};
}

void all_merged_on_trunk(const FactoryFixture& f, const std::string& line) {
  for (const auto& item : f.line(line).items) {
    INFO(item.id << ": " << item.drop_reason);
    CHECK(item.state == ItemState::merged);
    CHECK(f.file_on_trunk("items/" + item.id + ".txt") == item.id + "\n");
  }
}

}  // namespace

TEST_CASE("fab gc trims the op log to the newest operations, collects garbage, and the factory works on",
          "[engine][gc]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(6));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  const auto trunk = f.trunk_changes();
  const auto before = op_ids(f);
  const auto before_times = op_ids(f, "self.time().start() ++ \" \" ++ description");
  const auto old = working_copy_and_older(f);
  REQUIRE(before.size() > 12 + old.size());

  auto gc = f.fab({"gc", "--keep", "5", "--json"});
  INFO(gc.out << gc.err);
  REQUIRE(gc.ok());
  auto report = nlohmann::json::parse(gc.out);
  CHECK(report.at("operations_before") == before.size());
  CHECK(report.at("operations_kept") == 5 + old.size());
  CHECK(report.at("why").get<std::string>().find("newest 5") != std::string::npos);
  CHECK(report.at("bytes_after").get<std::uint64_t>() < report.at("bytes_before").get<std::uint64_t>());
  CHECK(report.at("files_after").get<std::uint64_t>() < report.at("files_before").get<std::uint64_t>());
  // The newest five (under new IDs: jj reparents them) and the working copy's operation with all
  // before it (unchanged) are left, and nothing on trunk changed.
  auto after = op_ids(f);
  REQUIRE(after.size() == 5 + old.size());
  CHECK(report.at("oldest_kept") == after.at(4));
  CHECK(head(op_ids(f, "self.time().start() ++ \" \" ++ description"), 5) == head(before_times, 5));
  CHECK(std::vector<std::string>(after.begin() + 5, after.end()) == old);
  {
    // The default workspace's working copy did not go stale (jj loads it at its operation).
    auto status = f.factory().repo().run({"status"}, {.repo = f.root(), .snapshot = true});
    INFO((status ? status->err : status.error().render()));
    REQUIRE(status);
    CHECK(status->out.find("Working copy") != std::string::npos);
  }
  CHECK(f.trunk_changes() == trunk);
  all_merged_on_trunk(f, line);
  // The journal notes what became of each operation it names: trimmed, or renamed to a kept one.
  const auto journal = f.journal(line);
  REQUIRE(journal.back().kind == "op_log_trimmed");
  const auto& note = journal.back().fields;
  CHECK(journal.back().str("oldest_kept") == after.at(4));
  std::size_t trimmed = 0, renamed_ops = 0;
  for (const auto& r : journal) {
    const auto op = r.str("op");
    if (op.empty()) continue;
    if (note.at("renamed").contains(op)) {
      ++renamed_ops;
      CHECK(std::find(after.begin(), after.begin() + 5, note.at("renamed").at(op).get<std::string>()) != after.begin() + 5);
    } else if (std::find(note.at("trimmed").begin(), note.at("trimmed").end(), op.substr(0, 32)) != note.at("trimmed").end()) {
      ++trimmed;
      CHECK(std::find(after.begin(), after.end(), op) == after.end());
    } else {
      CHECK(std::find(old.begin(), old.end(), op) != old.end());  // older than the working copy's: unchanged
    }
  }
  CHECK(trimmed > 5);
  CHECK(renamed_ops >= 1);

  // `fab recover --to` an operation it kept rolls nothing back: the journal's trimmed operations
  // are known to be older.
  auto recover = f.fab({"recover", "--to", after.at(0)});
  INFO(recover.out << recover.err);
  REQUIRE(recover.ok());
  all_merged_on_trunk(f, line);
  CHECK(f.trunk_changes() == trunk);
  // ... and to the one before the last merge's rolls that merge back: its record names the
  // operation by the ID it had before the gc.
  std::string last_merge;
  nlohmann::json renamed;
  for (const auto& r : f.journal(line)) {
    if (r.kind == "transition" && r.str("to") == "merged") last_merge = r.str("op");
    if (r.kind == "op_log_trimmed") renamed = r.fields.at("renamed");
  }
  REQUIRE(renamed.contains(last_merge));
  const auto now = op_ids(f);
  auto at = std::find(now.begin(), now.end(), renamed.at(last_merge).get<std::string>());
  REQUIRE(at != now.end());
  REQUIRE(at + 1 != now.end());
  auto rollback = f.fab({"recover", "--to", *(at + 1)});
  INFO(rollback.out << rollback.err);
  REQUIRE(rollback.ok());
  std::size_t rolled_back = 0;
  for (const auto& item : f.line(line).items) rolled_back += item.state == ItemState::queued ? 1 : 0;
  CHECK(rolled_back >= 1);
  CHECK(rolled_back < 6);
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  all_merged_on_trunk(f, line);
  // The factory goes on, and a second gc with nothing more to trim is harmless.
  auto more = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  auto run = f.run_until_idle();
  all_merged_on_trunk(f, more);
  auto text = f.fab({"gc"});
  INFO(text.err);
  REQUIRE(text.ok());
  CHECK(text.out.find("kept all") != std::string::npos);
  CHECK(text.out.find("repo storage: ") != std::string::npos);
}

// A line whose items wait (queued) needs none of its operations: a long line collected as it runs
// (gc.every_merged drains the floor, so nothing is in flight then) keeps only the newest ones. An
// item in flight (here: as a run that died while it built left it) keeps the operation its newest
// record names and everything after it.
TEST_CASE("fab gc trims a line whose items wait, and keeps what an item in flight needs", "[engine][gc]") {
  FactoryFixture f;
  auto done = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  auto waiting = f.stamp(blueprint_yaml(kOwnFile), requirement_md(3));
  auto other = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  REQUIRE(f.fab({"run", "--until-idle", "--line", other}).ok());
  for (const auto& item : f.line(waiting).items) REQUIRE(item.state == ItemState::queued);
  {
    const auto ops = op_ids(f);
    const auto old = working_copy_and_older(f);
    auto gc = f.fab({"gc", "--keep", "1"});
    INFO(gc.out << gc.err);
    REQUIRE(gc.ok());
    CHECK(gc.out.find("in flight") == std::string::npos);
    // The newest operation, and the working copy's and older: the waiting line's stamp is gone.
    CHECK(op_ids(f).size() == 1 + old.size());
    CHECK(op_ids(f).size() < ops.size());
  }

  // Item 1 of the waiting line as a run that died while it built it left it: its newest record
  // names the operation then; more operations come after it (a line stamped).
  const auto item = f.line(waiting).items.at(0).id;
  auto at = f.factory().repo().current_operation();
  REQUIRE(at);
  REQUIRE(f.factory().store().transition(item, ItemState::building, "attempt 1 (a run that died)", {{"op", *at}},
                                         [](Item& i) { i.attempts = 1; }));
  auto third = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  {
    const auto ops = op_ids(f);
    const auto since = static_cast<std::size_t>(std::find(ops.begin(), ops.end(), *at) - ops.begin());
    REQUIRE(since < ops.size());
    REQUIRE(since > 1);  // operations came after it
    const auto old = working_copy_and_older(f);
    const auto stamped = op_ids(f, "self.time().start() ++ \" \" ++ description");
    auto gc = f.fab({"gc", "--keep", "1"});
    INFO(gc.out << gc.err);
    REQUIRE(gc.ok());
    CHECK(gc.out.find("item " + item + " of line " + waiting + " is in flight") != std::string::npos);
    // That operation and every one after it are kept (the ones after it with new IDs).
    const auto after = op_ids(f);
    CHECK(after.size() == std::min(ops.size(), since + 1 + old.size()));
    CHECK(head(op_ids(f, "self.time().start() ++ \" \" ++ description"), since + 1) == head(stamped, since + 1));
  }
  // The next run recovers the item and lands every line.
  auto run = f.run_until_idle();
  all_merged_on_trunk(f, done);
  all_merged_on_trunk(f, waiting);
  all_merged_on_trunk(f, other);
  all_merged_on_trunk(f, third);
}

TEST_CASE("fab recover --to refuses when operations its journals name were abandoned by hand", "[engine][gc][recover]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(3));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  const auto trunk = f.trunk_changes();
  // jj's documented way to trim the op log; the journal's operations are gone with it.
  f.jj({"op", "abandon", "..@-"});
  const auto ops = op_ids(f);
  REQUIRE(ops.size() == 2);  // (the current one and the root)
  auto r = f.fab({"recover", "--to", ops.front()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("cannot roll line " + line + " back") != std::string::npos);
  CHECK(r.err.find("no longer in jj's operation log") != std::string::npos);
  CHECK(r.err.find("Hint:") != std::string::npos);
  // Nothing was rolled back or restored.
  CHECK(op_ids(f) == ops);
  CHECK(f.trunk_changes() == trunk);
  all_merged_on_trunk(f, line);
  // (The abandon took the default working copy's operation too; the user repairs it as jj says.)
  REQUIRE(f.factory().repo().run({"workspace", "update-stale"}, {.snapshot = true}));
  // Plain recovery and further runs still work.
  auto plain = f.fab({"recover"});
  INFO(plain.err);
  CHECK(plain.ok());
  auto more = f.stamp(blueprint_yaml(kOwnFile), requirement_md(1));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  all_merged_on_trunk(f, more);
}

TEST_CASE("fab gc takes keep_operations from the factory's config, and refuses a bad one", "[engine][gc]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(3));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  const auto config_file = f.root() / ".factory" / "config.json";
  auto config = nlohmann::json::parse(read_file(config_file));
  config["gc"] = {{"keep_operations", 3}};
  write_file(config_file, config.dump(2));
  auto gc = f.fab({"gc", "--json"});
  INFO(gc.err);
  REQUIRE(gc.ok());
  const auto old = working_copy_and_older(f);
  CHECK(nlohmann::json::parse(gc.out).at("operations_kept") == 3 + old.size());
  CHECK(op_ids(f).size() == 3 + old.size());

  config["gc"] = {{"keep_operations", 0}};
  write_file(config_file, config.dump(2));
  auto bad = f.fab({"gc"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(config_file.string() + ": \"gc\" keep_operations must be a whole number >= 1") != std::string::npos);
  config.erase("gc");
  write_file(config_file, config.dump(2));
  CHECK(op_ids(f).size() == 3 + old.size());
  all_merged_on_trunk(f, line);
}

namespace {

// The factory's config.json with "gc": {keep_operations, every_merged}.
void set_gc(const FactoryFixture& f, int keep_operations, int every_merged) {
  const auto config_file = f.root() / ".factory" / "config.json";
  auto config = nlohmann::json::parse(read_file(config_file));
  config["gc"] = {{"keep_operations", keep_operations}, {"every_merged", every_merged}};
  write_file(config_file, config.dump(2));
}

}  // namespace

TEST_CASE("fab run drains the floor for gc.every_merged in the middle of a line, then goes on", "[engine][gc]") {
  FactoryFixture f;
  set_gc(f, 4, 3);
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(12));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.out << run.err);
  REQUIRE(run.ok());
  // Due every 3 merged items; it comes once what was already in flight has landed (items waiting to
  // land hold no slot, so several may be): at least two collections, work started after the first.
  std::size_t collections = 0, at = 0;
  while ((at = run.err.find("fab gc: kept ", at)) != std::string::npos) {
    ++collections;
    ++at;
  }
  CHECK(collections >= 2);
  const auto first_gc = run.err.find("fab gc: kept ");
  REQUIRE(first_gc != std::string::npos);
  CHECK(run.err.find("queued -> building", first_gc) != std::string::npos);  // work started again after it
  all_merged_on_trunk(f, line);
}

TEST_CASE("fab run collects garbage after gc.every_merged items, once its workspaces are gone", "[engine][gc]") {
  FactoryFixture f;
  set_gc(f, 4, 3);
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(3));
  auto run = f.fab({"run", "--until-idle"});
  INFO(run.out << run.err);
  REQUIRE(run.ok());
  CHECK(run.err.find("fab gc: kept ") != std::string::npos);
  const auto old = working_copy_and_older(f);
  // What the run left after its collection: the newest 4, the working copies' operations and
  // older; nothing was made after the collection (it ran last).
  CHECK(op_ids(f).size() == 4 + old.size());
  all_merged_on_trunk(f, line);
  // The factory works on after it.
  auto more = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  auto again = f.fab({"run", "--until-idle"});
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK(again.err.find("fab gc: kept ") == std::string::npos);  // (2 merged: not due)
  all_merged_on_trunk(f, more);
}
