// The journal as the store's write-ahead log (workgraph/line_replay.h, store.h): a change is one
// appended record; line.json is a checkpoint. What a kill at any instant of a change or of a
// checkpoint leaves behind, damaged journals, and several Stores on one factory.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>

#include "substrate/process.h"
#include "tests/support/temp_dir.h"
#include "tests/workgraph/fixtures.h"
#include "workgraph/crc32.h"
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

// The journal mark line.json's header holds.
fab::JournalMark mark_of(const fs::path& line_file) {
  auto text = read_file(line_file);
  auto decoded = fab::decode_line_file(text, line_file);
  REQUIRE(decoded);
  REQUIRE(decoded->journal);
  return *decoded->journal;
}

std::vector<fab::JournalRecord> transitions_of(Store& store, const std::string& line, const std::string& item) {
  auto journal = store.journal(line);
  REQUIRE(journal);
  std::vector<fab::JournalRecord> out;
  for (auto& r : *journal) {
    if (r.kind == "transition" && r.str("item") == item) out.push_back(std::move(r));
  }
  return out;
}

std::set<std::string> temp_files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp-") != std::string::npos) out.insert(e.path().filename().string());
  }
  return out;
}

void copy_dir(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

// A record with a good checksum around `body`.
std::string with_crc(const std::string& body) { return fmt::format("{:08x} {}\n", fab::crc32(body), body); }

}  // namespace

TEST_CASE("a change appends one record and leaves line.json alone until the records after it outgrow it",
          "[workgraph][wal]") {
  fab::test::TempDir dir;
  const std::uint64_t min_bytes = 4096;
  auto store = open_store(dir.path(), min_bytes);
  create(store, "k3x9qa", 40, 400);
  const auto line_file = store.line_dir("k3x9qa") / "line.json";
  const auto journal_file = store.line_dir("k3x9qa") / "journal.jsonl";
  auto checkpoint = read_file(line_file);
  auto mark = mark_of(line_file);
  CHECK(mark.bytes == fs::file_size(journal_file));
  CHECK(mark.records == 1);

  std::uint64_t appended = 0;
  std::uint64_t rewritten = 0;
  int checkpoints = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 1; i <= 40; ++i) {
      const auto id = fab::make_item_id("k3x9qa", i);
      const auto to = round % 2 == 0 ? ItemState::building : ItemState::rework;
      const auto before = fs::file_size(journal_file);
      REQUIRE(store.transition(id, to, "step", {}, [](fab::Item& item) { item.attempts += 1; }));
      appended += fs::file_size(journal_file) - before;
      auto now = read_file(line_file);
      const auto tail = fs::file_size(journal_file) - mark.bytes;
      if (now == checkpoint) {
        // Not rewritten: the records after it are still within the bound.
        CHECK(tail <= fab::StoreOptions{min_bytes}.checkpoint_bound(checkpoint.size()));
        continue;
      }
      // Rewritten by the change that took the records past the bound, and it includes them all.
      CHECK(tail > fab::StoreOptions{min_bytes}.checkpoint_bound(checkpoint.size()));
      auto new_mark = mark_of(line_file);
      CHECK(new_mark.bytes == fs::file_size(journal_file));
      CHECK(new_mark.records == store.journal("k3x9qa")->size());
      ++checkpoints;
      rewritten += now.size();
      checkpoint = std::move(now);
      mark = new_mark;
    }
    // Whatever was rewritten when, a fresh Store reads what this one holds.
    auto mine = store.load_line("k3x9qa");
    auto fresh = open_store(dir.path()).load_line("k3x9qa");
    REQUIRE(mine);
    REQUIRE(fresh);
    CHECK(fab::encode_line_file(*mine, {}) == fab::encode_line_file(*fresh, {}));
    CHECK(fresh->items[39].attempts == round + 1);
    auto summary = open_store(dir.path()).summaries();
    REQUIRE(summary);
    CHECK(summary->at(0).count(round % 2 == 0 ? ItemState::building : ItemState::rework) == 40);
  }
  CHECK(checkpoints >= 2);
  // Amortized, a change writes its record and at most `divisor` times as much again of checkpoint.
  CHECK(rewritten <= fab::StoreOptions{}.checkpoint_divisor * appended + checkpoint.size());
  CHECK(temp_files_in(store.line_dir("k3x9qa")).empty());
}

TEST_CASE("a record torn at any byte is no change, and the next change cuts it off", "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto store = open_store(dir / "f");
  create(store, "k3x9qa", 3);
  REQUIRE(store.transition("k3x9qa.1", ItemState::building, "go", {}, [](fab::Item& i) { i.attempts = 1; }));
  const auto line_dir = store.line_dir("k3x9qa");
  const auto journal_file = line_dir / "journal.jsonl";
  copy_dir(dir / "f", dir / "before");
  const auto before = read_file(journal_file);
  // The record a change writes (its time differs each time it is made; its shape does not).
  auto change = [](Store& s) {
    return s.transition("k3x9qa.1", ItemState::inspecting, "built", {{"op", "abc"}},
                        [](fab::Item& i) { i.feedback = "looked fine"; });
  };
  REQUIRE(change(store));
  const auto record = read_file(journal_file).substr(before.size());
  REQUIRE(record.size() > 100);

  for (std::size_t k = 0; k <= record.size(); ++k) {
    INFO("the first " << k << " of " << record.size() << " bytes of the record reached the disk");
    copy_dir(dir / "before", dir / "f");
    write_file(journal_file, before + record.substr(0, k));
    const bool whole = k == record.size();
    auto reader = open_store(dir / "f");
    auto item = reader.find_item("k3x9qa.1");
    REQUIRE(item);
    CHECK(item->state == (whole ? ItemState::inspecting : ItemState::building));
    CHECK(item->feedback == (whole ? "looked fine" : ""));
    auto summary = open_store(dir / "f").summaries();
    REQUIRE(summary);
    CHECK(summary->at(0).count(ItemState::inspecting) == (whole ? 1u : 0u));
    CHECK(read_file(journal_file) == before + record.substr(0, k));  // a reader changes nothing

    // The next change (the same one again, unless it was made) goes on from there, once.
    auto writer = open_store(dir / "f");
    if (!whole) {
      fab::test::CaptureLog log;
      REQUIRE(change(writer));
      CHECK((k == 0 || log.text().find("torn") != std::string::npos));
    }
    REQUIRE(writer.transition("k3x9qa.1", ItemState::refining, "passed"));
    auto journal = writer.journal("k3x9qa");
    REQUIRE(journal);
    REQUIRE(journal->size() == 4);  // created, -> building, -> inspecting, -> refining
    CHECK((*journal)[2].str("to") == "inspecting");
    CHECK((*journal)[3].str("to") == "refining");
    auto after = open_store(dir / "f").find_item("k3x9qa.1");
    REQUIRE(after);
    CHECK(after->state == ItemState::refining);
    CHECK(after->feedback == "looked fine");
  }
}

TEST_CASE("a kill at any instant of a checkpoint loses nothing and duplicates nothing", "[workgraph][wal]") {
  fab::test::TempDir dir;
  const std::uint64_t min_bytes = 1024;
  auto store = open_store(dir / "f", min_bytes);
  create(store, "k3x9qa", 4, 100);
  const auto line_dir = store.line_dir("k3x9qa");
  const auto line_file = line_dir / "line.json";
  const auto journal_file = line_dir / "journal.jsonl";
  // Changes until the next one rewrites line.json.
  const std::vector<std::pair<std::string, ItemState>> path = {
      {"k3x9qa.1", ItemState::building}, {"k3x9qa.2", ItemState::building}, {"k3x9qa.1", ItemState::rework},
      {"k3x9qa.2", ItemState::rework},   {"k3x9qa.1", ItemState::building}, {"k3x9qa.2", ItemState::building},
      {"k3x9qa.1", ItemState::rework},   {"k3x9qa.2", ItemState::rework},   {"k3x9qa.1", ItemState::building},
      {"k3x9qa.2", ItemState::building}, {"k3x9qa.1", ItemState::rework},   {"k3x9qa.2", ItemState::rework}};
  std::size_t next = 0;
  std::string old_checkpoint;
  for (; next < path.size(); ++next) {
    old_checkpoint = read_file(line_file);
    copy_dir(dir / "f", dir / "before");
    REQUIRE(store.transition(path[next].first, path[next].second, "step", {}, [](fab::Item& i) { i.attempts += 1; }));
    if (read_file(line_file) != old_checkpoint) break;
  }
  REQUIRE(next < path.size());  // this change wrote a checkpoint
  const auto new_checkpoint = read_file(line_file);
  const auto journal = read_file(journal_file);
  auto expected = store.load_line("k3x9qa");
  REQUIRE(expected);

  // The instants: the record is appended; then a temporary file is written (any prefix of it),
  // renamed over line.json, and the directory synced.
  std::vector<std::pair<std::string, std::size_t>> instants;  // (line.json, bytes of the temporary file; npos: none)
  for (std::size_t k : {std::size_t{0}, std::size_t{1}, new_checkpoint.size() / 3, new_checkpoint.size() - 1,
                        new_checkpoint.size()}) {
    instants.emplace_back(old_checkpoint, k);
  }
  instants.emplace_back(old_checkpoint, std::string::npos);
  instants.emplace_back(new_checkpoint, std::string::npos);
  for (const auto& [checkpoint, temp_bytes] : instants) {
    INFO("line.json is the " << (checkpoint == new_checkpoint ? "new" : "old") << " one; temporary file: "
                             << (temp_bytes == std::string::npos ? "none" : std::to_string(temp_bytes) + " bytes"));
    copy_dir(dir / "before", dir / "f");
    write_file(journal_file, journal);
    write_file(line_file, checkpoint);
    if (temp_bytes != std::string::npos) write_file(line_dir / ".line.json.tmp-4242-0", new_checkpoint.substr(0, temp_bytes));
    auto reader = open_store(dir / "f", min_bytes);
    auto line = reader.load_line("k3x9qa");
    REQUIRE(line);
    CHECK(fab::encode_line_file(*line, {}) == fab::encode_line_file(*expected, {}));
    // Going on: every change after it lands once, and the next checkpoint clears the leftovers.
    for (std::size_t i = next + 1; i < path.size(); ++i) {
      REQUIRE(reader.transition(path[i].first, path[i].second, "step", {}, [](fab::Item& it) { it.attempts += 1; }));
    }
    for (int i = 0; i < 30 && !temp_files_in(line_dir).empty(); ++i) {
      REQUIRE(reader.update_item("k3x9qa.3", [](fab::Item& it) { it.attempts += 1; }));
    }
    CHECK(temp_files_in(line_dir).empty());
    auto fresh = open_store(dir / "f", min_bytes);
    auto done = fresh.load_line("k3x9qa");
    REQUIRE(done);
    CHECK(done->items[0].attempts == 6);
    CHECK(done->items[1].attempts == 6);
    CHECK(transitions_of(fresh, "k3x9qa", "k3x9qa.1").size() == 6);
    CHECK(transitions_of(fresh, "k3x9qa", "k3x9qa.2").size() == 6);
  }
}

TEST_CASE("killed at random instants, a writer loses nothing it was told was done and does nothing twice",
          "[workgraph][wal][concurrency]") {
  fab::test::TempDir dir;
  // Enough items that a whole walk takes longer than most of the delays below, also on a fast disk
  // (a transition is one fsynced record: ~0.3 ms where fsync is cheap).
  const int items = 160;
  {
    auto store = open_store(dir.path());
    create(store, "walkrs", items, 150);
  }
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> delay_ms(5, 40);
  std::map<std::string, int> confirmed;  // item -> attempts the store confirmed
  int kills = 0;
  for (int run = 0; run < 200; ++run) {
    const bool last = run == 199;
    auto r = fab::run_process({.argv = {FAB_STORE_HAMMER, "walk", dir.path().string(), "walkrs", "1024"},
                               .timeout = last ? 120000ms : std::chrono::milliseconds(delay_ms(rng)),
                               .timeout_signal = 9});
    REQUIRE(r);
    std::istringstream out(r->out);
    for (std::string item, state; out >> item >> state;) {
      int attempts = 0;
      out >> attempts;
      confirmed[item] = attempts;
    }
    auto store = open_store(dir.path());
    auto line = store.load_line("walkrs");
    INFO("after run " << run << ": " << (line ? "" : line.error().render()) << r->err);
    REQUIRE(line);
    for (const auto& item : line->items) {
      // Every confirmed step is there, and each step was made once (attempts counts them).
      CHECK(item.attempts >= confirmed[item.id]);
      auto records = transitions_of(store, "walkrs", item.id);
      REQUIRE(records.size() == static_cast<std::size_t>(item.attempts));
      const char* steps[] = {"building", "inspecting", "refining", "merged"};
      for (std::size_t i = 0; i < records.size(); ++i) CHECK(records[i].str("to") == steps[i]);
    }
    if (r->ok()) break;
    REQUIRE(r->timed_out);
    ++kills;
  }
  auto store = open_store(dir.path());
  auto line = store.load_line("walkrs");
  REQUIRE(line);
  for (const auto& item : line->items) CHECK(item.state == ItemState::merged);
  CHECK(kills >= 5);
  auto repaired = store.repair_line("walkrs");
  REQUIRE(repaired);
  CHECK_FALSE(repaired->has_value());  // the checkpoint agrees with the whole journal replayed
}

TEST_CASE("a bad record in a line's journal blocks that line and no other", "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "aaaaaa", 2);
  create(store, "bbbbbb", 2);
  REQUIRE(store.transition("aaaaaa.1", ItemState::building, "go"));
  auto cached = open_store(dir.path());
  REQUIRE(cached.load_line("aaaaaa"));  // a Store that read the line before the damaged record
  REQUIRE(store.transition("aaaaaa.2", ItemState::building, "go"));
  REQUIRE(store.transition("aaaaaa.1", ItemState::inspecting, "built"));
  const auto file = store.line_dir("aaaaaa") / "journal.jsonl";
  auto text = read_file(file);
  const auto second = text.find('\n') + 1;   // record 2: aaaaaa.1 -> building
  const auto third = text.find('\n', second) + 1;  // record 3: aaaaaa.2 -> building
  std::string why;

  SECTION("a checksum that does not match") {
    text[third + 20] = text[third + 20] == 'q' ? 'r' : 'q';
    why = file.string() + ":3:1: bad journal record";
  }
  SECTION("a good checksum around something that is not a record") {
    text.replace(third, text.find('\n', third) + 1 - third, with_crc("[1,2]"));
    why = file.string() + ":3:1: bad journal record";
  }
  SECTION("a change of an item the line does not have") {
    auto record = fab::Journal::decode(text.substr(third, text.find('\n', third) - third));
    REQUIRE(record);
    record->fields["item"] = "aaaaaa.9";
    text.replace(third, text.find('\n', third) + 1 - third, fab::Journal::encode(*record));
    why = file.string() + ":3: changes item \"aaaaaa.9\", which line aaaaaa does not have";
  }
  SECTION("a change that would break the line's rules") {
    auto record = fab::Journal::decode(text.substr(third, text.find('\n', third) - third));
    REQUIRE(record);
    record->fields["set"]["depends_on"] = json::array({"aaaaaa.2"});
    record->fields["item"] = "aaaaaa.2";
    text.replace(third, text.find('\n', third) + 1 - third, fab::Journal::encode(*record));
    why = file.string() + ":3: line aaaaaa: item aaaaaa.2 depends on itself";
  }
  write_file(file, text);
  // (When a change a Store makes breaks the rules, it is refused before anything is written:
  // store_test's "a refused transition changes nothing".)
  auto fresh = open_store(dir.path());
  for (auto* s : {&cached, &fresh}) {
    auto r = s->load_line("aaaaaa");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "cannot read line aaaaaa");
    CHECK(r.error().render().find(why) != std::string::npos);
    CHECK_FALSE(r.error().hint.empty());
  }
  fresh = open_store(dir.path());
  auto listing = fresh.list_lines();
  REQUIRE(listing);
  REQUIRE(listing->lines.size() == 1);
  CHECK(listing->lines[0].line.id == "bbbbbb");
  REQUIRE(listing->damaged.size() == 1);
  CHECK(listing->damaged[0].id == "aaaaaa");
  CHECK(listing->damaged[0].error.render().find(why) != std::string::npos);
  CHECK_FALSE(fresh.summaries());  // (one that cannot say the whole factory fails, naming it)
  CHECK_FALSE(fresh.lines());
  CHECK_FALSE(fresh.transition("aaaaaa.2", ItemState::inspecting, "built"));
  CHECK_FALSE(fresh.repair_line("aaaaaa"));
  CHECK(fresh.find_item("bbbbbb.2")->id == "bbbbbb.2");
  REQUIRE(fresh.transition("bbbbbb.1", ItemState::building, "go"));
  CHECK(fresh.load_line("bbbbbb")->items[0].state == ItemState::building);
  auto search = fresh.find_item("bbbbbb.");
  REQUIRE_FALSE(search);  // two matches, and it says which line it could not search
  CHECK(search.error().message.find("line aaaaaa (") != std::string::npos);
  CHECK(read_file(file) == text);  // nothing was cut or rewritten
}

TEST_CASE("a bad record before the checkpoint does not stop reads, and repair_line reports it",
          "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path(), 1024);
  create(store, "aaaaaa", 3, 300);
  for (int round = 0; round < 4; ++round) {
    for (int i = 1; i <= 3; ++i) {
      REQUIRE(store.transition(fab::make_item_id("aaaaaa", i), round % 2 ? ItemState::rework : ItemState::building, "x"));
    }
  }
  const auto mark = mark_of(store.line_dir("aaaaaa") / "line.json");
  REQUIRE(mark.records > 3);
  const auto file = store.line_dir("aaaaaa") / "journal.jsonl";
  auto text = read_file(file);
  const auto second = text.find('\n') + 1;
  text[second + 20] = text[second + 20] == 'q' ? 'r' : 'q';
  write_file(file, text);
  auto fresh = open_store(dir.path());
  REQUIRE(fresh.load_line("aaaaaa"));
  auto repaired = fresh.repair_line("aaaaaa");
  REQUIRE_FALSE(repaired);
  CHECK(repaired.error().message == file.string() + ":2:1: bad journal record");
  CHECK_FALSE(fresh.journal("aaaaaa"));
}

TEST_CASE("a Store sees what others appended and checkpointed, and line.json edited by hand", "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto a = open_store(dir.path());
  auto b = open_store(dir.path(), 512);
  create(a, "k3x9qa", 3, 200);
  REQUIRE(a.load_line("k3x9qa"));
  REQUIRE(b.transition("k3x9qa.1", ItemState::building, "go"));
  CHECK(a.find_item("k3x9qa.1")->state == ItemState::building);
  CHECK(a.summaries()->at(0).count(ItemState::building) == 1);
  const auto line_file = a.line_dir("k3x9qa") / "line.json";
  const auto before = read_file(line_file);
  for (int i = 0; i < 6 && read_file(line_file) == before; ++i) {
    REQUIRE(b.update_item("k3x9qa.2", [](fab::Item& it) { it.attempts += 1; }));
  }
  REQUIRE(read_file(line_file) != before);  // b wrote a checkpoint
  CHECK(a.find_item("k3x9qa.2")->attempts == b.find_item("k3x9qa.2")->attempts);
  REQUIRE(a.transition("k3x9qa.2", ItemState::building, "go"));
  CHECK(b.find_item("k3x9qa.2")->state == ItemState::building);

  auto text = read_file(line_file);
  text.replace(text.find("\"title\":\"item 3\""), 16, "\"title\":\"Item 3\"");
  write_file(line_file, text);
  CHECK(a.find_item("k3x9qa.3")->title == "Item 3");
  CHECK(b.load_line("k3x9qa")->items[2].title == "Item 3");
  // ... which the journal does not know: repair_line puts the journal's title back, and says so.
  auto repaired = a.repair_line("k3x9qa");
  REQUIRE(repaired);
  REQUIRE(repaired->has_value());
  CHECK((*repaired)->find("disagreed with its journal about k3x9qa.3") != std::string::npos);
  CHECK(b.find_item("k3x9qa.3")->title == "item 3");
}

TEST_CASE("replace_blueprint is journaled, and the stamped digest comes from the journal", "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path(), 512);
  auto [line, items] = make_line("k3x9qa", 2);
  line.blueprint_yaml = "name: first\n";
  line.blueprint_digest = fab::blueprint_digest(line.blueprint_yaml);
  line.blueprint_file = "/bp/first.yaml";
  REQUIRE(store.create_line(line, items));
  CHECK(*store.stamped_blueprint_digest("k3x9qa") == fab::blueprint_digest("name: first\n"));

  auto replaced = store.replace_blueprint("k3x9qa", "name: second\n", "/bp/second.yaml");
  REQUIRE(replaced);
  CHECK(replaced->blueprint_digest == fab::blueprint_digest("name: second\n"));
  auto journal = store.journal("k3x9qa");
  REQUIRE(journal);
  CHECK(journal->back().kind == "reblueprint");
  CHECK(journal->back().str("blueprint_digest") == fab::blueprint_digest("name: second\n"));
  for (int i = 0; i < 8; ++i) REQUIRE(store.update_item("k3x9qa.1", [](fab::Item& it) { it.attempts += 1; }));
  auto fresh = open_store(dir.path());
  auto loaded = fresh.load_line("k3x9qa");
  REQUIRE(loaded);
  CHECK(loaded->line.blueprint_yaml == "name: second\n");
  CHECK(loaded->line.blueprint_file == "/bp/second.yaml");
  CHECK(*fresh.stamped_blueprint_digest("k3x9qa") == fab::blueprint_digest("name: second\n"));
  CHECK(open_store(dir.path()).summaries()->at(0).line.blueprint_digest == fab::blueprint_digest("name: second\n"));

  // YAML and digest rewritten together in line.json: the journal still says what was stamped.
  const auto file = store.line_dir("k3x9qa") / "line.json";
  auto text = read_file(file);
  auto at = text.find("name: second");
  REQUIRE(at != std::string::npos);
  text.replace(at, 12, "name: sneaky");
  auto digest_at = text.find(fab::blueprint_digest("name: second\n"));
  REQUIRE(digest_at != std::string::npos);
  text.replace(digest_at, 14, fab::blueprint_digest("name: sneaky\n"));
  write_file(file, text);
  CHECK(fresh.load_line("k3x9qa")->line.blueprint_digest == fab::blueprint_digest("name: sneaky\n"));
  CHECK(*fresh.stamped_blueprint_digest("k3x9qa") == fab::blueprint_digest("name: second\n"));
  CHECK(*open_store(dir.path()).stamped_blueprint_digest("k3x9qa") == fab::blueprint_digest("name: second\n"));
}

TEST_CASE("the store's own record fields cannot be passed as extras or notes", "[workgraph][wal]") {
  fab::test::TempDir dir;
  auto store = open_store(dir.path());
  create(store, "k3x9qa", 1);
  for (const char* key : {"set", "unset", "contents"}) {
    auto r = store.transition("k3x9qa.1", ItemState::building, "x", {{key, json::object()}});
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == fab::ErrorKind::internal);
    fab::JournalRecord note;
    note.kind = "note";
    note.fields = {{key, json::object()}};
    CHECK_FALSE(store.append_journal("k3x9qa", note));
  }
  CHECK(store.journal("k3x9qa")->size() == 1);
}
