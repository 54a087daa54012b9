#include <catch2/catch.hpp>

#include <thread>

#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;

namespace {

const std::string kAppendOwnFile = R"(mkdir -p items && echo "$FAB_ITEM_ID" >> "items/$FAB_ITEM_ID.txt")";

const JournalRecord* find_transition(const std::vector<JournalRecord>& j, const std::string& item, const std::string& to) {
  for (const auto& r : j) {
    if (r.kind == "transition" && r.str("item") == item && r.str("to") == to) return &r;
  }
  return nullptr;
}

std::size_t index_of(const std::vector<JournalRecord>& j, const JournalRecord* r) {
  return static_cast<std::size_t>(r - j.data());
}

struct Tally {
  int merged = 0, dropped = 0;
};

// The line's items counted by end state; each dropped item's reason must name `dropped_for` when
// it is given.
Tally tally(const FactoryFixture& f, const std::string& line, const std::string& dropped_for = "") {
  Tally t;
  for (const auto& item : f.line(line).items) {
    INFO(item.id << " " << to_string(item.state) << " " << item.drop_reason);
    t.merged += item.state == ItemState::merged;
    if (item.state == ItemState::dropped) {
      ++t.dropped;
      if (!dropped_for.empty()) CHECK(item.drop_reason.find(dropped_for) != std::string::npos);
    }
  }
  return t;
}

// Every refine log of the line, one after another.
std::string refine_log(const FactoryFixture& f, const std::string& line) {
  std::string log;
  for (const auto& one : f.refine_logs(line)) log += one;
  return log;
}

// Stamps three items, 2 and 3 both after 1 (so the second of them to land conflicts wherever both
// edit one place), with `refine` and rework_limit 1 (the refinery is their only chance), and runs
// the line until idle.
std::string run_two_after_one(FactoryFixture& f, const std::string& agent, const std::string& refine) {
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 1, refine), requirement_md(3, {{2, 1}, {3, 1}}));
  auto run = f.run_until_idle();
  return line;
}

// The refinery of the conflict tests: the deterministic phase with the union guess allowed too,
// so that what is left is left by a rule's refusal, not for want of a guess.
const std::string kUnionRefine = "refine:\n  - plugin: deterministic\n    with:\n      union: true\n";

// What run_two_after_one leaves when the second item to land is sent back: two merged, one
// dropped (its reason naming `dropped_for`), and no file settled by a resolver.
void check_second_sent_back(const FactoryFixture& f, const std::string& line, const std::string& dropped_for) {
  auto t = tally(f, line, dropped_for);
  CHECK(t.merged == 2);
  CHECK(t.dropped == 1);  // rework_limit 1: the refinery was its only chance
  for (const auto& r : f.journal(line)) CHECK_FALSE(r.kind == "resolved");
}

// Item 1 writes a Latin-1 file (0xe7 is "c with cedilla"); the others append their id to it.
const std::string kLatin1Agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'Fran\347ois\n' > shared.txt ;;
  *) echo "$FAB_ITEM_ID" >> shared.txt ;;
esac)";

}  // namespace

TEST_CASE("a line of five items merges onto a straight trunk, each change once", "[engine][floor]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, R"(test -s "items/$FAB_ITEM_ID.txt")", 2), requirement_md(5));
  auto before = f.trunk_changes();
  auto run = f.run_until_idle();
  CHECK(run.err.find("building -> inspecting") != std::string::npos);

  auto rec = f.line(line);
  auto trunk = f.trunk_changes();
  CHECK(trunk.size() == before.size() + 5);
  for (const auto& item : rec.items) {
    CHECK(item.state == ItemState::merged);
    CHECK(item.attempts == 1);
    CHECK(f.file_on_trunk("items/" + item.id + ".txt") == item.id + "\n");
    // The agent's input and transcript are kept.
    auto dir = f.root() / ".factory" / "lines" / line / "items" / item.id;
    CHECK(std::filesystem::exists(dir / "attempt-1.md"));
    CHECK(read_file(dir / "attempt-1.md").find("Do part") != std::string::npos);
    CHECK(std::filesystem::exists(dir / "attempt-1.agent.txt"));
  }
  check_invariants(f, line);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
  CHECK(f.pool_empty());
  // Every transition names the jj operation that went with it.
  for (const auto& r : f.journal(line)) {
    if (r.kind == "transition") CHECK(r.str("op").size() > 20);
  }

  SECTION("fab oplog --json annotates each operation with its item and transition") {
    auto log = f.fab({"oplog", "--json"});
    REQUIRE(log.ok());
    std::istringstream in(log.out);
    int merges = 0, not_fab = 0;
    for (std::string l; std::getline(in, l);) {
      auto j = nlohmann::json::parse(l);
      REQUIRE(j.contains("op"));
      REQUIRE(j.contains("description"));
      if (j["transition"] == "refining -> merged") {
        // One trunk move per batch: items that passed in the same tick land together.
        merges += static_cast<int>(j["items"].size());
        CHECK(j["line"] == line);
        CHECK(j["items"].size() >= 1);
        CHECK(j["fab"] == true);
      }
      if (j["fab"] == false) {
        ++not_fab;
        INFO(l);
        CHECK(j["line"].is_null());
        // Only jj's root operation: fab made every other one, also those jj records no command
        // for (`jj git init`'s, the first of `jj workspace add`'s two).
        CHECK(j["op"].get<std::string>().find_first_not_of('0') == std::string::npos);
      }
      if (j["description"].get<std::string>().starts_with("add workspace 'fab-pool-")) {
        INFO(l);
        CHECK(j["line"] == line);
      }
    }
    CHECK(merges == 5);
    CHECK(not_fab == 1);
    auto text = f.fab({"oplog", "-n", "3"});
    REQUIRE(text.ok());
    CHECK(text.out.find(line + ".") != std::string::npos);
  }

  SECTION("fab recover --to rolls repo and work graph back to an operation") {
    auto j = f.journal(line);
    auto first_merge = find_transition(j, line + ".1", "merged");
    REQUIRE(first_merge);
    const auto op = first_merge->str("op");
    auto rec_before = f.line(line);
    auto r = f.fab({"recover", "--to", op});
    INFO(r.err);
    REQUIRE(r.ok());
    // Items merged later are queued again; trunk is back where it was at that operation.
    auto rolled = f.line(line);
    int merged = 0;
    for (const auto& item : rolled.items) merged += item.state == ItemState::merged ? 1 : 0;
    CHECK(merged >= 1);
    CHECK(merged < 5);
    CHECK(r.out.find("-> queued") != std::string::npos);
    check_invariants(f, line);
    CHECK(f.workspaces() == std::vector<std::string>{"default"});
    // And the floor finishes the job again.
    auto again = f.fab({"run", "--until-idle"});
    INFO(again.err);
    REQUIRE(again.ok());
    for (const auto& item : f.line(line).items) CHECK(item.state == ItemState::merged);
    check_invariants(f, line);
    CHECK(f.trunk_changes().size() == before.size() + 5);
  }

  SECTION("fab recover on a healthy factory has nothing to do") {
    auto r = f.fab({"recover"});
    REQUIRE(r.ok());
    CHECK(r.out == "nothing to repair\n");
  }
}

TEST_CASE("an item whose inspector always fails is dropped after rework_limit attempts", "[engine][floor]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, "echo 'tests are red'; exit 1", 2, 2), requirement_md(1));
  auto before = f.trunk_changes();
  auto run = f.run_until_idle();
  auto item = f.line(line).items.at(0);
  CHECK(item.state == ItemState::dropped);
  CHECK(item.attempts == 2);
  CHECK(item.drop_reason.find("failed 2 of 2 attempts") != std::string::npos);
  CHECK(item.drop_reason.find("inspector command failed") != std::string::npos);
  // The second attempt was handed the first one's feedback.
  auto md = read_file(f.root() / ".factory" / "lines" / line / "items" / item.id / "attempt-2.md");
  CHECK(md.find("tests are red") != std::string::npos);
  CHECK(f.trunk_changes() == before);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

TEST_CASE("a crashing agent sends its item to rework and the factory carries on", "[engine][floor]") {
  FactoryFixture f;
  // Attempt 1 kills the plugin child with SIGSEGV; attempt 2 works.
  auto agent = std::string(R"(if [ "$FAB_ATTEMPT" = 1 ]; then kill -SEGV $PPID; sleep 5; fi; )") + kAppendOwnFile;
  auto line = f.stamp(blueprint_yaml(agent), requirement_md(2));
  auto run = f.run_until_idle();
  for (const auto& item : f.line(line).items) {
    CHECK(item.state == ItemState::merged);
    CHECK(item.attempts == 2);
  }
  auto j = f.journal(line);
  auto rework = find_transition(j, line + ".1", "rework");
  REQUIRE(rework);
  CHECK(rework->fields.value("feedback", "").find("signal 11") != std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("two items adding to the end of one file: the refinery settles it with union", "[engine][floor][conflict]") {
  FactoryFixture f;
  const std::string agent = R"(echo "$FAB_ITEM_ID" >> shared.txt)";
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 3, kUnionRefine), requirement_md(2));
  auto run = f.run_until_idle();
  for (const auto& item : f.line(line).items) CHECK(item.state == ItemState::merged);
  auto shared = f.file_on_trunk("shared.txt");
  CHECK(shared.find(line + ".1\n") != std::string::npos);
  CHECK(shared.find(line + ".2\n") != std::string::npos);
  CHECK(run.err.find("settled the conflict in shared.txt") != std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("a conflict no resolver settles goes back to the agent with the path in its feedback", "[engine][floor][conflict]") {
  FactoryFixture f;
  const std::string agent = R"(echo "$FAB_ITEM_ID" >> shared.txt)";
  const std::string refine = "refine:\n  - plugin: deterministic\n";
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 2, refine), requirement_md(2));
  auto run = f.run_until_idle();
  // One of the two lands first; the other conflicts, no resolver settles it, and it is sent back.
  auto j0 = f.journal(line);
  const Item* loser = nullptr;
  auto rec = f.line(line);
  for (const auto& item : rec.items) {
    if (find_transition(j0, item.id, "rework")) loser = &item;
  }
  REQUIRE(loser);
  auto j = f.journal(line);
  auto rework = find_transition(j, loser->id, "rework");
  REQUIRE(rework);
  auto feedback = rework->fields.value("feedback", "");
  CHECK(feedback.find("shared.txt") != std::string::npos);
  CHECK(feedback.find("conflict") != std::string::npos);
  // The loser's next attempt appends to a file full of jj's conflict markers. Whatever it does,
  // every item ends merged or dropped and no marker line ever reaches trunk.
  for (const auto& item : f.line(line).items) {
    INFO(item.id << " " << to_string(item.state) << " " << item.drop_reason);
    CHECK((item.state == ItemState::merged || item.state == ItemState::dropped));
  }
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
  }
  CHECK(f.file_on_trunk("shared.txt").find(line + ".") != std::string::npos);
  check_invariants(f, line);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

TEST_CASE("two items adding one line, one with a blank line before it: no rule picks the blank lines, the second is not landed",
          "[engine][floor][conflict]") {
  FactoryFixture f;
  // Items 2 and 3 (both after item 1) add the same line after `alpha`; item 3 puts a blank line
  // before it. Which side's blank lines to keep is a guess, so even with every opt-in rule on the
  // region is left: the second to land is not settled, and trunk holds exactly the first's file.
  const std::string agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'alpha\nomega\n' > shared.txt ;;
  *.2) sed -i 's/^alpha$/alpha\nbeta/' shared.txt ;;
  *) sed -i 's/^alpha$/alpha\n\nbeta/' shared.txt ;;
esac)";
  const std::string refine =
      "refine:\n  - plugin: deterministic\n    with:\n      union: true\n      token_merge: true\n";
  const auto line = run_two_after_one(f, agent, refine);
  check_second_sent_back(f, line, "shared.txt");
  auto shared = f.file_on_trunk("shared.txt");
  CHECK((shared == "alpha\nbeta\nomega\n" || shared == "alpha\n\nbeta\nomega\n"));
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
  }
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("the sides differ only in blank lines") != std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("a conflict in a file that is not UTF-8 is settled on its bytes: none is replaced on the way",
          "[engine][floor][conflict]") {
  FactoryFixture f;
  // Items 2 and 3 both append to item 1's Latin-1 file, so the second to land conflicts and
  // `union: true` settles it. The resolvers' requests are JSON: the file goes as its Latin-1
  // reading and comes back as the same bytes, never as U+FFFD.
  const auto line = run_two_after_one(f, kLatin1Agent, kUnionRefine);
  auto t = tally(f, line);
  CHECK(t.merged == 3);
  CHECK(t.dropped == 0);
  auto shared = f.file_on_trunk("shared.txt");
  CHECK((shared == "Fran\xe7ois\n" + line + ".2\n" + line + ".3\n" ||
         shared == "Fran\xe7ois\n" + line + ".3\n" + line + ".2\n"));
  int resolved = 0;
  for (const auto& r : f.journal(line)) resolved += r.kind == "resolved";
  CHECK(resolved == 1);
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("shared.txt: base:1:5: not valid UTF-8 (byte 0xe7); sent to the resolvers as Latin-1") !=
        std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("a resolver's answer with a character that is no byte of a Latin-1 file is not taken, and says so",
          "[engine][floor][conflict]") {
  FactoryFixture f;
  // The refinery (on the bare C ABI, answering whatever its `with.result` says) settles the Latin-1
  // file with an em dash, U+2014: no byte of a Latin-1 reading stands for it, so the answer cannot
  // be turned back into the file's bytes and must not land in any form.
  const std::string refine = std::string("refine:\n  - plugin: ") + FAB_TEST_PLUGIN_DIR +
                             "/fab-plugin-echo-refinery.so\n    with:\n      result: {ok: true, resolved: true, "
                             "unresolved: 0, message: settled, content: \"Fran\xc3\xa7ois \xe2\x80\x94 both\\n\"}\n";
  const auto line = run_two_after_one(f, kLatin1Agent, refine);
  check_second_sent_back(f, line, "shared.txt");
  auto shared = f.file_on_trunk("shared.txt");
  CHECK((shared == "Fran\xe7ois\n" + line + ".2\n" || shared == "Fran\xe7ois\n" + line + ".3\n"));
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("/fab-plugin-echo-refinery.so answered with U+2014 (line 1, column 10), which is no byte of this "
                 "Latin-1 file; not taken") != std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("a conflict in a binary file reaches no resolver, and trunk keeps its bytes", "[engine][floor][conflict]") {
  FactoryFixture f;
  // Item 1 writes a binary file (a NUL byte, as git tells one); items 2 and 3 append their id to
  // it. A line rule (`union: true` here) would "settle" it into bytes no program reads: no
  // resolver may be asked, and the item goes back naming the file and why.
  const std::string agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf '\211PNG\r\n\032\n\000\000\000\rIHDR\n' > image.png ;;
  *) echo "$FAB_ITEM_ID" >> image.png ;;
esac)";
  const auto line = run_two_after_one(f, agent, kUnionRefine);
  check_second_sent_back(f, line, "image.png (binary: base has a NUL byte at offset 8");
  const std::string header("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\n", 17);
  const auto image = f.file_on_trunk("image.png");
  CHECK((image == header + line + ".2\n" || image == header + line + ".3\n"));
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("image.png: binary: base has a NUL byte at offset 8; the resolvers merge text only") !=
        std::string::npos);
  CHECK(log.find("refinery deterministic") == std::string::npos);  // it was never asked
  check_invariants(f, line);
}

TEST_CASE("a conflict between a deleted file and a rewritten one is settled by no rule and loses neither",
          "[engine][floor][conflict]") {
  FactoryFixture f;
  // Item 2 deletes item 1's file, item 3 rewrites it: whichever lands second has a modify/delete
  // conflict. Even with `union: true` no rule settles it (which one people keep is a coin flip):
  // the item goes back naming the file, and trunk keeps exactly what the first one to land left.
  const std::string agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'alpha\nbeta\n' > shared.txt ;;
  *.2) rm shared.txt ;;
  *) printf 'alpha\nbeta from 3\n' > shared.txt ;;
esac)";
  const auto line = run_two_after_one(f, agent, kUnionRefine);
  check_second_sent_back(f, line, "shared.txt");
  bool two_landed = false;
  for (const auto& item : f.line(line).items) two_landed |= item.id == line + ".2" && item.state == ItemState::merged;
  const auto files = f.files_on_trunk();
  if (two_landed) {
    CHECK(files.count("shared.txt") == 0);
  } else {
    REQUIRE(files.count("shared.txt") == 1);
    CHECK(files.at("shared.txt") == "alpha\nbeta from 3\n");
  }
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("shared.txt: refinery deterministic: not settled") != std::string::npos);
  check_invariants(f, line);
}

TEST_CASE("a dependent item starts only after its dependency merged", "[engine][floor]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, "", 4), requirement_md(3, {{2, 1}, {3, 2}}));
  auto run = f.run_until_idle();
  auto j = f.journal(line);
  for (const auto& [dependent, dependency] : std::vector<std::pair<int, int>>{{2, 1}, {3, 2}}) {
    auto started = find_transition(j, line + "." + std::to_string(dependent), "building");
    auto merged = find_transition(j, line + "." + std::to_string(dependency), "merged");
    REQUIRE(started);
    REQUIRE(merged);
    CHECK(index_of(j, merged) < index_of(j, started));
  }
  check_invariants(f, line);
}

TEST_CASE("a second fab run is refused with the holder's pid and fab stop stops the first", "[engine][floor][stop]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml("sleep 60"), requirement_md(1));
  ProcessResult first;
  std::thread runner([&] { first = f.fab({"run", "--grace", "1"}); });
  // Wait until the item is building.
  bool building = false;
  for (int i = 0; i < 300 && !building; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    building = f.line(line).items.at(0).state == ItemState::building;
  }
  CHECK(building);
  auto second = f.fab({"run", "--until-idle"});
  CHECK_FALSE(second.ok());
  CHECK(second.err.find("another fab run") != std::string::npos);
  CHECK(second.err.find("pid ") != std::string::npos);
  CHECK(second.err.find("fab stop") != std::string::npos);

  auto stop = f.fab({"stop", "--wait"}, std::chrono::seconds(60));
  runner.join();
  INFO(first.err);
  CHECK(stop.ok());
  CHECK(stop.out.find("asked the fab run") != std::string::npos);
  CHECK(first.ok());
  CHECK(first.err.find("stopping") != std::string::npos);
  auto item = f.line(line).items.at(0);
  CHECK(item.state == ItemState::queued);
  CHECK(item.attempts == 0);  // the interrupted attempt is not counted
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
  CHECK_FALSE(std::filesystem::exists(f.root() / ".factory" / "stop"));
  // With nobody running, stop says so.
  auto idle = f.fab({"stop"});
  CHECK(idle.ok());
  CHECK(idle.out == "no fab run is active\n");
}

TEST_CASE("items behind a dropped dependency are dropped too and the line is done", "[engine][floor]") {
  FactoryFixture f;
  // Item 1's inspector always fails; item 2 depends on item 1, item 3 on item 2.
  const std::string inspect = R"(case "$FAB_ITEM_ID" in *.1) echo 'item 1 is red'; exit 1;; esac)";
  auto line = f.stamp(blueprint_yaml(kAppendOwnFile, inspect, 2, 2), requirement_md(3, {{2, 1}, {3, 2}}));
  auto before = f.trunk_changes();
  auto run = f.fab({"run", "--until-idle"}, std::chrono::minutes(2));
  INFO(run.err);
  REQUIRE(run.ok());
  REQUIRE_FALSE(run.timed_out);
  auto rec = f.line(line);
  const auto& a = rec.items.at(0);
  const auto& b = rec.items.at(1);
  const auto& c = rec.items.at(2);
  CHECK(a.state == ItemState::dropped);
  CHECK(a.attempts == 2);
  CHECK(b.state == ItemState::dropped);
  CHECK(b.attempts == 0);  // never started
  CHECK(b.drop_reason == "dependency " + a.id + " (" + a.title + ") was dropped");
  CHECK(c.state == ItemState::dropped);
  CHECK(c.drop_reason == "dependency " + b.id + " (" + b.title + ") was dropped");
  // The journal says so, queued -> dropped.
  auto j = f.journal(line);
  auto drop_b = find_transition(j, b.id, "dropped");
  REQUIRE(drop_b);
  CHECK(drop_b->str("from") == "queued");
  CHECK(f.trunk_changes() == before);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
  // The line is done: a second run has nothing to do and says nothing is blocked.
  auto again = f.fab({"run", "--until-idle"}, std::chrono::minutes(1));
  INFO(again.err);
  REQUIRE(again.ok());
  CHECK(again.err.find("blocked") == std::string::npos);
  auto status = f.fab({"status", "--json"});
  INFO(status.out << status.err);
  CHECK(status.ok());
}

TEST_CASE("an agent that writes conflict markers is sent back naming the file", "[engine][floor][markers]") {
  FactoryFixture f;
  // Attempt 1 writes a file holding jj-style conflict markers (jj sees no conflict: it is text).
  const std::string agent =
      R"(if [ "$FAB_ATTEMPT" = 1 ]; then printf '<<<<<<< Conflict 1 of 1\n%%%%%%%%%%%%%%%% Changes from base to side #1\n-a\n+b\n+++++++ Contents of side #2\nc\n>>>>>>> Conflict 1 of 1 ends\n' > notes.txt; )"
      R"(else echo resolved > notes.txt; fi)";
  auto line = f.stamp(blueprint_yaml(agent, "true", 1, 3), requirement_md(1));
  auto run = f.run_until_idle();
  auto item = f.line(line).items.at(0);
  CHECK(item.state == ItemState::merged);
  CHECK(item.attempts == 2);
  auto j = f.journal(line);
  auto rework = find_transition(j, item.id, "rework");
  REQUIRE(rework);
  CHECK(rework->str("from") == "building");
  auto feedback = rework->fields.value("feedback", "");
  CHECK(feedback.find("notes.txt") != std::string::npos);
  CHECK(feedback.find("resolve the markers") != std::string::npos);
  CHECK(f.file_on_trunk("notes.txt") == "resolved\n");
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
  }
  check_invariants(f, line);
}

TEST_CASE("conflict markers after a NUL byte (binary) or a Latin-1 byte never land, and the file lands as its bytes",
          "[engine][floor][markers]") {
  // Attempt 1 writes a file with a conflict marker after a NUL byte (git calls it binary) or a
  // Latin-1 byte (jj cannot put its diff in JSON; fab reads it as bytes); attempt 2 a clean one.
  struct Case {
    std::string file, agent, landed;
  };
  const std::vector<Case> cases{
      {"blob.bin",
       R"(if [ "$FAB_ATTEMPT" = 1 ]; then printf 'a\000b\n<<<<<<< ours\n' > blob.bin; else printf 'a\000b\n' > blob.bin; fi)",
       std::string("a\0b\n", 4)},
      {"names.txt",
       R"(if [ "$FAB_ATTEMPT" = 1 ]; then printf 'caf\351\n<<<<<<< ours\n' > names.txt; else printf 'caf\351\nna\357ve\n' > names.txt; fi)",
       "caf\xe9\nna\xefve\n"}};
  for (const auto& c : cases) {
    for (const std::string inspect : {"true", ""}) {  // checked after the agent; and on the chain, before trunk moves
      INFO(c.file << ", inspector: '" << inspect << "'");
      FactoryFixture f;
      auto line = f.stamp(blueprint_yaml(c.agent, inspect, 1, 3), requirement_md(1));
      auto run = f.run_until_idle();
      auto item = f.line(line).items.at(0);
      CHECK(item.state == ItemState::merged);
      CHECK(item.attempts == 2);
      const auto journal = f.journal(line);
      auto rework = find_transition(journal, item.id, "rework");
      REQUIRE(rework);
      CHECK(rework->str("feedback").find(c.file + " (1 marker line, first: <<<<<<< ours)") != std::string::npos);
      CHECK(f.file_on_trunk(c.file) == c.landed);
      check_invariants(f, line);
    }
  }
}

TEST_CASE("a refinery that answers with conflict markers is not taken, and says so", "[engine][floor][markers][conflict]") {
  FactoryFixture f;
  // Items 2 and 3 (both after item 1) rewrite the same line their own way: whichever lands second conflicts.
  const std::string agent = R"(case "$FAB_ITEM_ID" in
  *.1) printf 'alpha\nbeta\ngamma\n' > shared.txt ;;
  *) sed -i "s/^beta\$/beta from $FAB_ITEM_ID/" shared.txt ;;
esac)";
  const std::string refine = std::string("refine:\n  - plugin: ") + FAB_TEST_PLUGIN_DIR + "/fab-plugin-markers.so\n";
  const auto line = run_two_after_one(f, agent, refine);
  check_second_sent_back(f, line, "");
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
    CHECK(text.find("<<<<<<<<<") == std::string::npos);
  }
  const auto log = refine_log(f, line);
  INFO(log);
  CHECK(log.find("shared.txt: refinery " + std::string(FAB_TEST_PLUGIN_DIR) +
                 "/fab-plugin-markers.so said it settled the file, but its answer has conflict markers "
                 "(line 1); not taken") != std::string::npos);
}

TEST_CASE("an agent that half-resolves a conflict (jj no longer sees it) never lands markers on trunk",
          "[engine][floor][markers][conflict]") {
  FactoryFixture f;
  // From attempt 2 on the agent deletes only the "<<<<<<<" line of jj's markers and appends: jj can
  // no longer parse the conflict, so the rest of the markers are plain text in the change.
  const std::string agent =
      R"(if [ -f shared.txt ]; then sed -i '/^<<<<<<< /d' shared.txt; fi; echo "$FAB_ITEM_ID" >> shared.txt)";
  const std::string refine = "refine:\n  - plugin: deterministic\n";
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 2, refine), requirement_md(2));
  auto run = f.run_until_idle();
  int merged = 0;
  for (const auto& item : f.line(line).items) {
    INFO(item.id << " " << to_string(item.state) << " " << item.drop_reason);
    CHECK((item.state == ItemState::merged || item.state == ItemState::dropped));
    merged += item.state == ItemState::merged ? 1 : 0;
  }
  CHECK(merged >= 1);
  for (const auto& [path, text] : f.files_on_trunk()) {
    INFO(path << ":\n" << text);
    CHECK(marker_lines(text).empty());
  }
  // The refusal named the file and the markers.
  bool refused = false;
  for (const auto& r : f.journal(line)) {
    if (r.kind == "transition" && (r.str("to") == "rework" || r.str("to") == "dropped")) {
      auto fb = r.fields.value("feedback", "");
      refused = refused || (fb.find("resolve the markers") != std::string::npos && fb.find("shared.txt") != std::string::npos);
    }
  }
  CHECK(refused);
  check_invariants(f, line);
  CHECK(f.workspaces() == std::vector<std::string>{"default"});
}

TEST_CASE("an item back in the queue whose change trunk already holds is marked merged, not built or landed again",
          "[engine][floor]") {
  // What a landing that failed after trunk took the item leaves (a full disk while fab recorded
  // it): made here by putting a merged item back in the queue behind fab's back.
  FactoryFixture f;
  const auto line = f.stamp(blueprint_yaml(kAppendOwnFile), requirement_md(1));
  auto first = f.fab({"run", "--until-idle"});
  INFO(first.err);
  REQUIRE(first.ok());
  const auto item = f.line(line).items.at(0);
  REQUIRE(item.state == ItemState::merged);
  const auto trunk_before = f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"});
  {
    auto factory = f.factory();
    REQUIRE(factory.store().transition(item.id, ItemState::queued, "test: back in the queue", {}, {},
                                       TransitionKind::recovery));
  }
  auto again = f.fab({"run", "--until-idle"});
  INFO(again.err);
  REQUIRE(again.ok());
  const auto after = f.line(line).items.at(0);
  CHECK(after.state == ItemState::merged);
  CHECK(again.err.find("main already holds its change") != std::string::npos);
  // Trunk did not move, the agent did not run again (it appends its ID to its file: one line).
  CHECK(f.jj({"log", "--no-graph", "-r", "main", "-T", "commit_id"}) == trunk_before);
  CHECK(f.jj({"file", "show", "-r", "main", "root-file:\"items/" + item.id + ".txt\""}) == item.id + "\n");
  CHECK(after.attempts == item.attempts);
}
