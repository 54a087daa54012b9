#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <future>
#include <set>
#include <thread>

#include "substrate/process.h"
#include "tests/support/temp_dir.h"
#include "tests/workgraph/fixtures.h"
#include "workgraph/durable_file.h"
#include "workgraph/ids.h"
#include "workgraph/line_file.h"
#include "workgraph/store.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using fab::ItemState;
using fab::Store;
using fab::test::create;
using fab::test::make_line;
using fab::test::open_store;
using fab::test::read_file;
using fab::test::write_file;
using nlohmann::json;

namespace {

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("Store::open creates the factory layout", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir / ".factory");
  CHECK(fs::is_directory(dir / ".factory" / "lines"));
  CHECK(store.line_dir("k3x9qa") == dir / ".factory" / "lines" / "k3x9qa");
  auto lines = store.lines();
  REQUIRE(lines);
  CHECK(lines->empty());

  write_file(dir / "blocked" / "lines", "a file where a directory should be");
  auto blocked = Store::open(dir / "blocked");
  REQUIRE_FALSE(blocked);
  CHECK_FALSE(blocked.error().hint.empty());
}

TEST_CASE("a created line round-trips with exact JSON field names", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  auto [line, items] = make_line("k3x9qa", 3);
  line.created = "2025-01-02T03:04:05.006Z";
  items[1].depends_on = {"k3x9qa.1"};
  items[2].depends_on = {"k3x9qa.1", "zzzzzz.4"};
  items[2].extra["note"] = "kept";
  REQUIRE(store.create_line(line, items));

  auto raw = json::parse(read_file(store.line_dir("k3x9qa") / "line.json"));
  std::set<std::string> line_keys;
  for (auto& [k, v] : raw["line"].items()) {
    line_keys.insert(k);
  }
  CHECK(line_keys == std::set<std::string>{"id", "blueprint", "requirement", "created", "items", "trunk",
                                           "blueprint_yaml", "blueprint_digest", "blueprint_file"});
  CHECK(raw["line"]["items"] == json({"k3x9qa.1", "k3x9qa.2", "k3x9qa.3"}));
  const auto& item = raw["items"][0];
  for (const char* key : {"id", "line", "title", "state", "change_id", "depends_on", "attempts",
                          "drop_reason", "body"}) {
    CHECK(item.contains(key));
  }
  CHECK(item["state"] == "queued");
  CHECK(item["change_id"].is_null());
  CHECK(item["drop_reason"].is_null());
  CHECK(raw["items"][2]["note"] == "kept");

  auto loaded = open_store(dir.path()).load_line("k3x9qa");
  REQUIRE(loaded);
  CHECK(loaded->line.created == "2025-01-02T03:04:05.006Z");
  CHECK(loaded->line.blueprint == "default");
  REQUIRE(loaded->items.size() == 3);
  CHECK(loaded->items[1].depends_on == std::vector<std::string>{"k3x9qa.1"});
  CHECK(loaded->items[2].extra["note"] == "kept");
  CHECK(loaded->items[2].body == "Do step 3.\n");

  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == 1);
  CHECK((*journal)[0].kind == "line_created");
  CHECK((*journal)[0].fields["items"] == 3);
  CHECK(entries(store.line_dir("k3x9qa")) == std::set<std::string>{"line.json", "journal.jsonl"});
  CHECK(entries(dir / "lines") == std::set<std::string>{"k3x9qa"});
}

TEST_CASE("create_line refuses bad lines and leaves nothing behind", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "aaaaaa", 2);
  auto [line, items] = make_line("bbbbbb", 3);

  SECTION("bad line id") {
    line.id = "Bad-id";
  }
  SECTION("items out of order") {
    std::swap(items[0], items[1]);
  }
  SECTION("item of another line") {
    items[1].line = "cccccc";
  }
  SECTION("dependency on a missing item") {
    items[0].depends_on = {"bbbbbb.9"};
  }
  SECTION("dependency on itself") {
    items[0].depends_on = {"bbbbbb.1"};
  }
  SECTION("malformed dependency") {
    items[0].depends_on = {"step one"};
  }
  SECTION("line already exists") {
    line.id = "aaaaaa";
    for (int i = 0; i < 3; ++i) {
      items[i].id = fab::make_item_id("aaaaaa", i + 1);
      items[i].line = "aaaaaa";
    }
  }
  auto before = read_file(store.line_dir("aaaaaa") / "line.json");
  auto r = store.create_line(line, items);
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().hint.empty());
  CHECK(entries(dir / "lines") == std::set<std::string>{"aaaaaa"});
  CHECK(read_file(store.line_dir("aaaaaa") / "line.json") == before);
}

TEST_CASE("a line directory left by a crashed create is cleaned up and ignored", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  write_file(dir / "lines" / ".tmp-qqqqqq-999999" / "line.json", "{half");
  auto lines = store.lines();
  REQUIRE(lines);
  CHECK(lines->empty());
  fab::test::CaptureLog log;
  create(store, "aaaaaa", 1);
  CHECK(entries(dir / "lines") == std::set<std::string>{"aaaaaa"});
  CHECK(log.text().find("interrupted line creation") != std::string::npos);
}

TEST_CASE("a transition is validated, persisted and journaled", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 2);

  auto built = store.transition("k3x9qa.1", ItemState::building, "picked up",
                                {{"op", "abc123"}, {"attempt", 1}},
                                [](fab::Item& item) {
                                  item.attempts += 1;
                                  item.change = fab::test::fake_change("kxyzzyqq");
                                });
  REQUIRE(built);
  CHECK(built->state == ItemState::building);
  CHECK(built->attempts == 1);

  auto reloaded = open_store(dir.path()).load_line("k3x9qa");
  REQUIRE(reloaded);
  CHECK(reloaded->items[0].state == ItemState::building);
  CHECK(reloaded->items[0].change == fab::test::fake_change("kxyzzyqq"));
  CHECK(reloaded->items[0].attempts == 1);
  CHECK(reloaded->items[1].state == ItemState::queued);

  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == 2);
  const auto& rec = (*journal)[1];
  CHECK(rec.kind == "transition");
  CHECK(rec.str("item") == "k3x9qa.1");
  CHECK(rec.str("from") == "queued");
  CHECK(rec.str("to") == "building");
  CHECK(rec.str("reason") == "picked up");
  CHECK(rec.str("op") == "abc123");
  CHECK(rec.fields["attempt"] == 1);
  CHECK(rec.time.size() == 24);
  CHECK(rec.time.back() == 'Z');

  REQUIRE(store.transition("k3x9qa.2", ItemState::building, "no extras", {}));  // {} is JSON null
  CHECK_FALSE(store.transition("k3x9qa.2", ItemState::inspecting, "bad extras", json::array({1})));
  auto after = store.journal("k3x9qa");
  REQUIRE(after);
  REQUIRE(after->size() == 3);
  CHECK((*after)[2].fields.size() == 5);  // item, from, to, reason, and what changed:
  CHECK((*after)[2].fields["set"] == json({{"state", "building"}}));
  CHECK(rec.fields["set"] == json({{"state", "building"}, {"attempts", 1}, {"change_id", fab::test::fake_change("kxyzzyqq").str()}}));
}

TEST_CASE("a refused transition changes nothing", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 1);
  auto line_file = store.line_dir("k3x9qa") / "line.json";
  auto journal_file = store.line_dir("k3x9qa") / "journal.jsonl";
  auto line_before = read_file(line_file);
  auto journal_before = read_file(journal_file);

  bool mutator_ran = false;
  auto r = store.transition("k3x9qa.1", ItemState::merged, "skip ahead", json::object(),
                            [&](fab::Item&) { mutator_ran = true; });
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "cannot move item k3x9qa.1");
  CHECK(r.error().causes.at(0) == "an item cannot go from queued to merged");
  CHECK_FALSE(mutator_ran);

  auto missing = store.transition("k3x9qa.7", ItemState::building, "x");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "there is no item \"k3x9qa.7\"");
  CHECK_FALSE(store.transition("nonsense", ItemState::building, "x"));
  CHECK_FALSE(store.transition("zzzzzz.1", ItemState::building, "x"));

  auto clash = store.transition("k3x9qa.1", ItemState::building, "x", {{"to", "merged"}});
  REQUIRE_FALSE(clash);
  CHECK(clash.error().kind == fab::ErrorKind::internal);

  auto sneaky = store.update_item("k3x9qa.1", [](fab::Item& item) { item.state = ItemState::merged; });
  REQUIRE_FALSE(sneaky);
  CHECK(sneaky.error().kind == fab::ErrorKind::internal);

  auto bad_dep = store.update_item("k3x9qa.1", [](fab::Item& item) { item.depends_on = {"k3x9qa.5"}; });
  REQUIRE_FALSE(bad_dep);

  CHECK(read_file(line_file) == line_before);
  CHECK(read_file(journal_file) == journal_before);
}

TEST_CASE("merged and dropped items go back only through rollback", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 2);
  for (auto to : {ItemState::building, ItemState::inspecting, ItemState::refining, ItemState::merged}) {
    REQUIRE(store.transition("k3x9qa.1", to, "step"));
  }
  REQUIRE(store.transition("k3x9qa.2", ItemState::building, "step"));
  REQUIRE(store.transition("k3x9qa.2", ItemState::dropped, "agent gave up", json::object(),
                           [](fab::Item& item) { item.drop_reason = "cannot be done"; }));

  CHECK_FALSE(store.transition("k3x9qa.1", ItemState::queued, "undo"));
  CHECK_FALSE(store.transition("k3x9qa.2", ItemState::queued, "undo"));

  auto back = store.rollback("k3x9qa.1", "recover --to", {{"op", "0p1d"}});
  REQUIRE(back);
  CHECK(back->state == ItemState::queued);
  auto back2 = store.transition("k3x9qa.2", ItemState::queued, "recover", json::object(),
                                [](fab::Item& item) { item.drop_reason.clear(); },
                                fab::TransitionKind::recovery);
  REQUIRE(back2);
  CHECK(back2->drop_reason.empty());
  CHECK_FALSE(store.rollback("k3x9qa.2", "already queued"));

  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == 1 + 4 + 2 + 2);
  CHECK((*journal)[7].str("from") == "merged");
  CHECK((*journal)[7].str("to") == "queued");
  CHECK((*journal)[7].str("op") == "0p1d");
}

TEST_CASE("update_item edits fields and journals what changed", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 1);
  auto updated = store.update_item("k3x9qa.1", [](fab::Item& item) {
    item.change = fab::test::fake_change("zzzyyyxx");
    item.feedback = "tests fail";
  });
  REQUIRE(updated);
  auto loaded = open_store(dir.path()).load_line("k3x9qa");
  REQUIRE(loaded);
  CHECK(loaded->items[0].change == fab::test::fake_change("zzzyyyxx"));
  CHECK(loaded->items[0].feedback == "tests fail");
  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == 2);
  const auto& rec = journal->back();
  CHECK(rec.kind == "update");
  CHECK(rec.str("item") == "k3x9qa.1");
  CHECK_FALSE(rec.fields.contains("from"));
  CHECK(rec.fields["set"] == json({{"change_id", fab::test::fake_change("zzzyyyxx").str()}, {"feedback", "tests fail"}}));

  // An edit that changes nothing writes nothing; one that clears a field says so.
  REQUIRE(store.update_item("k3x9qa.1", [](fab::Item& item) { item.feedback = "tests fail"; }));
  CHECK(store.journal("k3x9qa")->size() == 2);
  REQUIRE(store.update_item("k3x9qa.1", [](fab::Item& item) { item.feedback.clear(); }));
  auto after = store.journal("k3x9qa");
  REQUIRE(after->size() == 3);
  CHECK(after->back().fields["unset"] == json::array({"feedback"}));
  CHECK(open_store(dir.path()).find_item("k3x9qa.1")->feedback.empty());
}

TEST_CASE("saving leaves no temporary files behind", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 3);
  for (int round = 0; round < 5; ++round) {
    for (int i = 1; i <= 3; ++i) {
      auto id = fab::make_item_id("k3x9qa", i);
      REQUIRE(store.transition(id, ItemState::building, "go"));
      REQUIRE(store.transition(id, ItemState::rework, "failed"));
      REQUIRE(store.transition(id, ItemState::queued, "reset"));
    }
  }
  CHECK(entries(store.line_dir("k3x9qa")) == std::set<std::string>{"line.json", "journal.jsonl"});
  CHECK(entries(dir / "lines") == std::set<std::string>{"k3x9qa"});
  CHECK(entries(dir.path()) == std::set<std::string>{"lines", "lock"});
}

TEST_CASE("write_file_atomic replaces whole files and cleans up on failure", "[workgraph][store]") {
  fab::test::TempDir dir;
  REQUIRE(fab::write_file_atomic(dir / "a.txt", "one"));
  REQUIRE(fab::write_file_atomic(dir / "a.txt", "two"));
  CHECK(read_file(dir / "a.txt") == "two");

  fs::create_directory(dir / "occupied");
  write_file(dir / "occupied" / "x", "keeps the directory non-empty");
  auto r = fab::write_file_atomic(dir / "occupied", "cannot replace a directory");
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("occupied") != std::string::npos);

  auto missing = fab::write_file_atomic(dir / "nope" / "b.txt", "x");
  REQUIRE_FALSE(missing);
  CHECK(entries(dir.path()) == std::set<std::string>{"a.txt", "occupied"});
}

TEST_CASE("find_item takes ids, change ids and unique prefixes", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 11);
  create(store, "m7p2zz", 2);
  REQUIRE(store.update_item("k3x9qa.2", [](fab::Item& i) { i.change = fab::test::fake_change("qpvuntsm"); }));
  REQUIRE(store.update_item("m7p2zz.1", [](fab::Item& i) { i.change = fab::test::fake_change("qpwxyzzz"); }));

  CHECK(store.find_item("k3x9qa.1")->id == "k3x9qa.1");  // exact, though .10 and .11 share the prefix
  CHECK(store.find_item("qpvuntsm")->id == "k3x9qa.2");
  CHECK(store.find_item("qpv")->id == "k3x9qa.2");
  CHECK(store.find_item("m7p2zz.2")->id == "m7p2zz.2");
  CHECK_FALSE(store.find_item("m7"));  // m7p2zz.1 and m7p2zz.2

  auto ambiguous = store.find_item("qp");
  REQUIRE_FALSE(ambiguous);
  CHECK(ambiguous.error().message.find("matches 2 items") != std::string::npos);
  CHECK(ambiguous.error().message.find("k3x9qa.2 (change " + fab::test::fake_change("qpvuntsm").str() + ")") !=
        std::string::npos);

  auto many = store.find_item("k3x9qa");
  REQUIRE_FALSE(many);
  CHECK(many.error().message.find("and 6 more") != std::string::npos);

  auto none = store.find_item("zzz");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "no item matches \"zzz\"");
  CHECK_FALSE(none.error().hint.empty());
  CHECK_FALSE(store.find_item(""));
  CHECK_FALSE(store.find_item("k3x9qa.12"));
}

TEST_CASE("summaries count items per state, oldest line first", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  auto [newer, newer_items] = make_line("aaaaaa", 2);
  newer.created = "2025-02-01T00:00:00.000Z";
  REQUIRE(store.create_line(newer, newer_items));
  auto [older, older_items] = make_line("zzzzzz", 4);
  older.created = "2025-01-01T00:00:00.000Z";
  older_items[3].state = ItemState::merged;
  REQUIRE(store.create_line(older, older_items));
  REQUIRE(store.transition("zzzzzz.1", ItemState::building, "go"));
  REQUIRE(store.transition("zzzzzz.2", ItemState::building, "go"));
  REQUIRE(store.transition("zzzzzz.2", ItemState::dropped, "no"));

  auto s = store.summaries();
  REQUIRE(s);
  REQUIRE(s->size() == 2);
  CHECK((*s)[0].line.id == "zzzzzz");
  CHECK((*s)[0].count(ItemState::queued) == 1);
  CHECK((*s)[0].count(ItemState::building) == 1);
  CHECK((*s)[0].count(ItemState::dropped) == 1);
  CHECK((*s)[0].count(ItemState::merged) == 1);
  CHECK((*s)[0].total() == 4);
  CHECK((*s)[1].line.id == "aaaaaa");
  CHECK((*s)[1].count(ItemState::queued) == 2);

  auto lines = store.lines();
  REQUIRE(lines);
  REQUIRE(lines->size() == 2);
  CHECK((*lines)[0].id == "zzzzzz");
  CHECK((*lines)[0].items.size() == 4);
}

TEST_CASE("new line ids are well formed and unused", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  std::set<std::string> made;
  for (int i = 0; i < 20; ++i) {
    auto id = store.new_line_id();
    REQUIRE(id);
    CHECK(fab::is_line_id(*id));
    CHECK(made.count(*id) == 0);
    create(store, *id, 1);
    made.insert(*id);
  }
  auto lines = store.lines();
  REQUIRE(lines);
  CHECK(lines->size() == 20);
}

TEST_CASE("a damaged line file is read from the journal, and repair_line rewrites it", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 2);
  create(store, "m7p2zz", 1);
  REQUIRE(store.transition("k3x9qa.2", ItemState::building, "go", {}, [](fab::Item& i) { i.attempts = 1; }));
  auto file = store.line_dir("k3x9qa") / "line.json";
  auto text = read_file(file);
  std::string why;  // what the warning and the repair must name

  SECTION("JSON syntax") {
    auto second_item = text.find("\n{\"attempts\"", text.find("\n{\"attempts\"") + 1);
    text.insert(second_item + 2, "!");  // line 4 becomes {!"attempts":...
    write_file(file, text);
    why = file.string() + ":4:2: invalid JSON";
    CHECK(open_store(dir.path()).summaries());  // status reads only the header line, which is intact
  }
  SECTION("JSON syntax in the header") {
    text.insert(text.find("\"line\":") + 7, "?");
    write_file(file, text);
    why = file.string() + ":1:";
  }
  SECTION("truncated") {
    write_file(file, text.substr(0, text.size() / 2));
    why = file.string() + ":";
  }
  SECTION("empty") {
    write_file(file, "");
    why = file.string() + ":1:1: invalid JSON";
  }
  SECTION("missing") {
    fs::remove(file);
    why = file.string() + " is missing";
  }
  SECTION("counts that do not match the items") {
    text.replace(text.find("\"queued\":2"), 10, "\"queued\":1");
    text.replace(text.find("\"rework\":0"), 10, "\"rework\":1");
    write_file(file, text);
    why = file.string() + ": \"counts\" do not match the items";
  }
  SECTION("unknown state") {
    auto at = text.find("\"state\":\"queued\"");
    text.replace(at, 16, "\"state\":\"done\"");
    write_file(file, text);
    why = file.string() + ": item 1: unknown state \"done\"";
  }
  SECTION("missing field") {
    auto at = text.find("\"attempts\":0,");
    text.erase(at, 13);
    write_file(file, text);
    why = file.string() + ": item 1: \"attempts\" must be a whole number >= 0";
  }
  SECTION("says it includes more of the journal than there is") {
    auto at = text.find("\"bytes\":") + 8;
    text.replace(at, text.find(',', at) - at, "99999999");
    write_file(file, text);
    why = "do not end with a record";
  }
  const auto damaged = fs::exists(file) ? read_file(file) : std::string();

  // Every read still gives the line as the journal says it is, and warns naming the damage.
  for (int fresh = 0; fresh < 2; ++fresh) {
    fab::test::CaptureLog log;
    auto reader = open_store(dir.path());
    auto r = fresh ? reader.load_line("k3x9qa") : reader.find_item("k3x9qa.2").map([&](auto&&) {
      return *reader.load_line("k3x9qa");
    });
    INFO((r ? "" : r.error().render()));
    REQUIRE(r);
    CHECK(r->items.size() == 2);
    CHECK(r->items[0].state == ItemState::queued);
    CHECK(r->items[1].state == ItemState::building);
    CHECK(r->items[1].attempts == 1);
    CHECK(r->items[1].body == "Do step 2.\n");
    CHECK(log.text().find(why) != std::string::npos);
    CHECK(log.text().find("read from its journal") != std::string::npos);
    auto listing = reader.list_lines();
    REQUIRE(listing);
    CHECK(listing->damaged.empty());
    REQUIRE(listing->lines.size() == 2);
  }

  // The repair says what it did, keeps the damaged file, and leaves a line.json that needs none.
  auto repaired = open_store(dir.path()).repair_line("k3x9qa");
  INFO((repaired ? "" : repaired.error().render()));
  REQUIRE(repaired);
  REQUIRE(repaired->has_value());
  CHECK((*repaired)->find("rebuilt line.json from its journal (2 records)") != std::string::npos);
  CHECK((*repaired)->find(why) != std::string::npos);
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(store.line_dir("k3x9qa"))) {
    if (e.path().filename().string().rfind("line.json.damaged-", 0) == 0) kept.push_back(e.path());
  }
  if (damaged.empty() && !fs::exists(store.line_dir("k3x9qa") / "line.json.damaged")) {
    CHECK(kept.size() <= 1);  // (a missing file leaves nothing to keep; an empty one is kept)
  } else {
    REQUIRE(kept.size() == 1);
    CHECK(read_file(kept[0]) == damaged);
  }
  {
    fab::test::CaptureLog log;
    auto again = open_store(dir.path());
    REQUIRE(again.load_line("k3x9qa"));
    CHECK(log.text().empty());
    auto nothing = again.repair_line("k3x9qa");
    REQUIRE(nothing);
    CHECK_FALSE(nothing->has_value());
    REQUIRE(again.transition("k3x9qa.1", ItemState::building, "go"));
    CHECK(open_store(dir.path()).load_line("k3x9qa")->items[0].state == ItemState::building);
  }
  CHECK(open_store(dir.path()).repair_line("m7p2zz")->has_value() == false);
}

TEST_CASE("a damaged line file of a line an older fab stamped is an error naming file:line:col",
          "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 2);
  create(store, "m7p2zz", 1);
  auto line_dir = store.line_dir("k3x9qa");
  // An older fab's line_created record held no "contents": nothing to rebuild from.
  auto journal = read_file(line_dir / "journal.jsonl");
  auto record = fab::Journal::decode(journal.substr(0, journal.size() - 1));
  REQUIRE(record);
  record->fields.erase("contents");
  write_file(line_dir / "journal.jsonl", fab::Journal::encode(*record));
  auto text = read_file(line_dir / "line.json");
  auto journal_mark = text.find("\"journal\":");
  text.erase(journal_mark, text.find('}', journal_mark) + 2 - journal_mark);  // (also an older fab's: format 1)
  text.replace(text.find("\"format\":2"), 10, "\"format\":1");
  auto file = line_dir / "line.json";

  SECTION("an intact format-1 file still loads, and is rewritten before the first change") {
    write_file(file, text);
    REQUIRE(store.load_line("k3x9qa"));
    REQUIRE(store.transition("k3x9qa.1", ItemState::building, "go"));
    auto fresh = open_store(dir.path()).load_line("k3x9qa");
    REQUIRE(fresh);
    CHECK(fresh->items[0].state == ItemState::building);
    CHECK(read_file(file).rfind("{\"format\":2,", 0) == 0);
  }
  SECTION("a damaged one cannot be read, and only its own line is affected") {
    auto second_item = text.find("\n{\"attempts\"", text.find("\n{\"attempts\"") + 1);
    text.insert(second_item + 2, "!");
    write_file(file, text);
    auto r = open_store(dir.path()).load_line("k3x9qa");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "cannot read line k3x9qa");
    REQUIRE(r.error().causes.size() == 2);
    CHECK(r.error().causes[0].rfind(file.string() + ":4:2: invalid JSON", 0) == 0);
    CHECK(r.error().causes[1].find("does not start with a \"line_created\" record that holds the line") !=
          std::string::npos);
    CHECK_FALSE(r.error().hint.empty());
    CHECK_FALSE(store.transition("k3x9qa.2", ItemState::building, "go"));
    CHECK_FALSE(store.repair_line("k3x9qa"));
    CHECK(read_file(file) == text);  // nothing was rewritten
    CHECK(store.transition("m7p2zz.1", ItemState::building, "go"));
  }
  SECTION("a newer format is refused, never rebuilt") {
    text.replace(text.find("\"format\":1"), 10, "\"format\":9");
    write_file(file, text);
    auto r = open_store(dir.path()).load_line("k3x9qa");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("format 9") != std::string::npos);
    CHECK_FALSE(store.repair_line("k3x9qa"));
    CHECK(read_file(file) == text);
  }
}

TEST_CASE("journal notes and a torn journal through the store", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 1);
  fab::JournalRecord note;
  note.kind = "note";
  note.fields = {{"text", "recovered from crash"}};
  REQUIRE(store.append_journal("k3x9qa", note));
  CHECK_FALSE(store.append_journal("zzzzzz", note));
  CHECK_FALSE(store.journal("zzzzzz"));

  auto file = store.line_dir("k3x9qa") / "journal.jsonl";
  write_file(file, read_file(file) + "0badc0de {\"kind\":\"tr");
  {
    fab::test::CaptureLog log;
    REQUIRE(store.transition("k3x9qa.1", ItemState::building, "go"));
    CHECK(log.text().find("torn") != std::string::npos);
  }
  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == 3);
  CHECK((*journal)[1].str("text") == "recovered from crash");
  CHECK((*journal)[2].str("to") == "building");
}

TEST_CASE("two processes hammering one factory lose nothing", "[workgraph][store][concurrency]") {
  fab::test::TempDir dir;
  const int per_worker = 25;
  {
    auto store = open_store(dir.path());
    create(store, "hammer", 2 * per_worker + 1);
  }
  auto run = [&](int worker) {
    return fab::run_process({.argv = {FAB_STORE_HAMMER, "work", dir.path().string(), "hammer",
                                      std::to_string(worker), std::to_string(per_worker), "3"},
                             .timeout = 120s});
  };
  auto a = std::async(std::launch::async, run, 0);
  auto b = std::async(std::launch::async, run, 1);
  for (auto* f : {&a, &b}) {
    auto r = f->get();
    REQUIRE(r);
    INFO(r->err);
    CHECK(r->ok());
  }

  auto store = open_store(dir.path());
  auto line = store.load_line("hammer");
  REQUIRE(line);
  for (int i = 0; i < 2 * per_worker; ++i) {
    INFO(line->items[i].id);
    CHECK(line->items[i].state == ItemState::merged);
    CHECK(line->items[i].attempts == 4);
  }
  CHECK(line->items[2 * per_worker].attempts == 2 * per_worker);

  auto journal = store.journal("hammer");
  REQUIRE(journal);
  // One record per transition, and one per bump of the shared item.
  CHECK(journal->size() == 1 + 4 * 2 * per_worker + 2 * per_worker);
  std::map<std::string, std::vector<std::string>> path;
  int bumps = 0;
  for (const auto& rec : *journal) {
    if (rec.kind == "transition") {
      path[rec.str("item")].push_back(rec.str("to"));
    }
    if (rec.kind == "update" && rec.str("item") == line->items[2 * per_worker].id) ++bumps;
  }
  CHECK(bumps == 2 * per_worker);
  CHECK(path.size() == 2 * per_worker);
  for (const auto& [item, states] : path) {
    INFO(item);
    CHECK(states == std::vector<std::string>{"building", "inspecting", "refining", "merged"});
  }

  auto lines = store.lines();
  REQUIRE(lines);
  CHECK(lines->size() == 1 + 2 * 3);
  CHECK(entries(dir / "lines").size() == 1 + 2 * 3);
}

TEST_CASE("two Store objects in two threads lose nothing", "[workgraph][store][concurrency]") {
  fab::test::TempDir dir;
  create(*std::make_unique<Store>(open_store(dir.path())), "shared", 1);
  std::atomic<int> failures{0};
  auto bump = [&] {
    auto store = Store::open(dir.path());
    if (!store) {
      ++failures;
      return;
    }
    for (int i = 0; i < 100; ++i) {
      if (!store->update_item("shared.1", [](fab::Item& item) { item.attempts += 1; })) {
        ++failures;
      }
    }
  };
  std::thread t1(bump);
  std::thread t2(bump);
  t1.join();
  t2.join();
  CHECK(failures == 0);
  CHECK(open_store(dir.path()).find_item("shared.1")->attempts == 200);
}

// An older fab saved line.json first and journaled second: a kill in between left the state ahead
// of the journal. Made here as that fab left it: line.json in its format (1, which says nothing of
// the journal) and the transition records cut off the journal's end.
TEST_CASE("transitions an older fab saved but did not journal are journaled by journal_lost_transitions",
          "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 3);
  REQUIRE(store.transition("k3x9qa.1", ItemState::building, "go"));
  REQUIRE(store.transition("k3x9qa.1", ItemState::inspecting, "built"));
  REQUIRE(store.transition("k3x9qa.2", ItemState::building, "go"));
  auto line = open_store(dir.path()).load_line("k3x9qa");
  REQUIRE(line);
  auto text = fab::encode_line_file(*line, {});
  auto journal_mark = text.find("\"journal\":");
  text.erase(journal_mark, text.find('}', journal_mark) + 2 - journal_mark);
  text.replace(text.find("\"format\":2"), 10, "\"format\":1");
  write_file(store.line_dir("k3x9qa") / "line.json", text);
  auto file = store.line_dir("k3x9qa") / "journal.jsonl";
  const auto whole = read_file(file);
  // Lose k3x9qa.2's only record and k3x9qa.1's last one.
  auto cut = whole;
  for (int i = 0; i < 2; ++i) cut = cut.substr(0, cut.rfind('\n', cut.size() - 2) + 1);
  write_file(file, cut);
  store = open_store(dir.path());
  // (the cut journal ends with k3x9qa.1 -> building)
  auto before = store.journal("k3x9qa");
  REQUIRE(before);
  REQUIRE(before->back().str("to") == "building");

  auto restored = store.journal_lost_transitions("k3x9qa", "recovered: lost", {{"op", "abc"}});
  REQUIRE(restored);
  CHECK(*restored == std::vector<std::string>{"k3x9qa.1 building -> inspecting", "k3x9qa.2 queued -> building"});
  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  REQUIRE(journal->size() == before->size() + 2);
  const auto& r = (*journal)[journal->size() - 2];
  CHECK(r.kind == "transition");
  CHECK(r.str("item") == "k3x9qa.1");
  CHECK(r.str("from") == "building");
  CHECK(r.str("to") == "inspecting");
  CHECK(r.str("reason") == "recovered: lost");
  CHECK(r.str("op") == "abc");
  CHECK(r.fields.value("attempts", -1) == 0);
  CHECK_FALSE(r.fields.contains("set"));  // history only: the state already is so
  CHECK(journal->back().str("item") == "k3x9qa.2");
  // Caught up: a second call finds nothing, and an item never moved (k3x9qa.3) never had anything.
  auto again = store.journal_lost_transitions("k3x9qa", "recovered: lost");
  REQUIRE(again);
  CHECK(again->empty());
  CHECK_FALSE(store.journal_lost_transitions("zzzzzz", "x"));
  // The states stay what line.json said, for this Store and a fresh one.
  for (auto* s : {&store}) {
    auto l = s->load_line("k3x9qa");
    REQUIRE(l);
    CHECK(l->items[0].state == ItemState::inspecting);
    CHECK(l->items[1].state == ItemState::building);
  }
  auto fresh = open_store(dir.path()).load_line("k3x9qa");
  REQUIRE(fresh);
  CHECK(fresh->items[0].state == ItemState::inspecting);
  CHECK(fresh->items[1].state == ItemState::building);
}

TEST_CASE("with this store a transition is never saved without its record", "[workgraph][store]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 2);
  REQUIRE(store.transition("k3x9qa.1", ItemState::building, "go"));
  REQUIRE(store.transition("k3x9qa.2", ItemState::building, "go"));
  auto none = store.journal_lost_transitions("k3x9qa", "recovered: lost");
  REQUIRE(none);
  CHECK(none->empty());
}
