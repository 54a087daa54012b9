#include <catch2/catch.hpp>

#include <filesystem>

#include "tests/support/temp_dir.h"
#include "tests/workgraph/fixtures.h"
#include "workgraph/crc32.h"
#include "workgraph/journal.h"

namespace fs = std::filesystem;
using fab::Journal;
using fab::JournalRecord;
using fab::test::read_file;
using fab::test::write_file;

namespace {
JournalRecord note(int n) {
  JournalRecord r;
  r.kind = "note";
  r.fields = {{"n", n}, {"text", "record " + std::to_string(n)}};
  return r;
}

void append_raw(const fs::path& file, const std::string& bytes) {
  write_file(file, read_file(file) + bytes);
}
}  // namespace

TEST_CASE("crc32 is the standard IEEE checksum", "[workgraph][journal]") {
  CHECK(fab::crc32("123456789") == 0xCBF43926u);
  CHECK(fab::crc32("") == 0u);
}

TEST_CASE("journal records are checksummed JSON lines and read back in order", "[workgraph][journal]") {
  fab::test::TempDir dir;
  Journal journal(dir / "journal.jsonl");
  auto none = journal.read();
  REQUIRE(none);
  CHECK(none->empty());

  for (int i = 1; i <= 3; ++i) {
    REQUIRE(journal.append(note(i)));
  }
  auto text = read_file(dir / "journal.jsonl");
  auto first_line = text.substr(0, text.find('\n'));
  REQUIRE(first_line.size() > 9);
  CHECK(first_line[8] == ' ');
  auto body = first_line.substr(9);
  CHECK(fmt::format("{:08x}", fab::crc32(body)) == first_line.substr(0, 8));
  auto j = nlohmann::json::parse(body);
  CHECK(j["kind"] == "note");
  CHECK(j["n"] == 1);
  CHECK(j["time"].get<std::string>().size() == 24);

  auto records = journal.read();
  REQUIRE(records);
  REQUIRE(records->size() == 3);
  CHECK((*records)[2].kind == "note");
  CHECK((*records)[2].fields["n"] == 3);
  CHECK((*records)[2].str("text") == "record 3");
  CHECK((*records)[2].str("missing").empty());
  CHECK_FALSE((*records)[2].fields.contains("kind"));
}

TEST_CASE("a torn last record without a newline is cut with a warning", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  Journal journal(file);
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(journal.append(note(i)));
  }
  auto good = read_file(file);
  auto partial = Journal::encode(note(4));
  append_raw(file, partial.substr(0, partial.size() / 2));

  fab::test::CaptureLog log;
  auto records = journal.read();
  REQUIRE(records);
  CHECK(records->size() == 3);
  CHECK((*records)[0].fields["n"] == 1);
  CHECK((*records)[2].fields["n"] == 3);
  CHECK(read_file(file) == good);
  CHECK(log.text().find("cut a torn last journal record") != std::string::npos);
  CHECK(log.text().find("journal.jsonl:4") != std::string::npos);

  REQUIRE(journal.append(note(5)));
  auto after = journal.read();
  REQUIRE(after);
  REQUIRE(after->size() == 4);
  CHECK((*after)[3].fields["n"] == 5);
}

TEST_CASE("a last record with a bad checksum is cut", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  Journal journal(file);
  REQUIRE(journal.append(note(1)));
  auto good = read_file(file);
  auto bad = Journal::encode(note(2));
  bad[12] = bad[12] == 'x' ? 'y' : 'x';  // damage the JSON, keep the newline
  append_raw(file, bad);

  fab::test::CaptureLog log;
  auto records = journal.read();
  REQUIRE(records);
  CHECK(records->size() == 1);
  CHECK(read_file(file) == good);
  CHECK(log.text().find("checksum mismatch") != std::string::npos);
}

TEST_CASE("a file holding only a torn record is cut to empty", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  write_file(file, "1234abcd {\"kind\":");
  fab::test::CaptureLog log;
  Journal journal(file);
  auto records = journal.read();
  REQUIRE(records);
  CHECK(records->empty());
  CHECK(fs::file_size(file) == 0);
}

TEST_CASE("append cuts a torn tail before writing", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  Journal journal(file);
  REQUIRE(journal.append(note(1)));
  REQUIRE(journal.append(note(2)));

  SECTION("partial record") { append_raw(file, "0000"); }
  SECTION("complete line with a bad checksum") { append_raw(file, "00000000 {\"kind\":\"note\",\"time\":\"x\"}\n"); }
  SECTION("garbage line") { append_raw(file, "not a record at all\n"); }

  fab::test::CaptureLog log;
  REQUIRE(journal.append(note(3)));
  CHECK(log.text().find("cut a torn last journal record") != std::string::npos);
  auto records = journal.read();
  REQUIRE(records);
  REQUIRE(records->size() == 3);
  CHECK((*records)[1].fields["n"] == 2);
  CHECK((*records)[2].fields["n"] == 3);
}

TEST_CASE("append reads back only as far as needed, even past long records", "[workgraph][journal]") {
  fab::test::TempDir dir;
  Journal journal(dir / "journal.jsonl");
  auto big = note(1);
  big.fields["feedback"] = std::string(200000, 'f');  // longer than the tail read chunk
  REQUIRE(journal.append(big));
  REQUIRE(journal.append(big));
  append_raw(dir / "journal.jsonl", Journal::encode(note(2)).substr(0, 30));
  fab::test::CaptureLog log;
  REQUIRE(journal.append(note(3)));
  auto records = journal.read();
  REQUIRE(records);
  REQUIRE(records->size() == 3);
  CHECK((*records)[1].str("feedback").size() == 200000);
  CHECK((*records)[2].fields["n"] == 3);
}

TEST_CASE("a bad record before the last one is an error, and nothing is cut", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  Journal journal(file);
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(journal.append(note(i)));
  }
  auto text = read_file(file);
  auto second = text.find('\n') + 1;
  text[second + 20] = text[second + 20] == 'q' ? 'r' : 'q';  // damage record 2 of 3
  write_file(file, text);

  auto records = journal.read();
  REQUIRE_FALSE(records);
  CHECK(records.error().message == file.string() + ":2:1: bad journal record");
  REQUIRE(records.error().causes.size() == 1);
  CHECK(records.error().causes[0].find("checksum mismatch") != std::string::npos);
  CHECK_FALSE(records.error().hint.empty());
  CHECK(read_file(file) == text);

  SECTION("also when the tail is torn as well") {
    append_raw(file, "abc");
    CHECK_FALSE(journal.read());
  }
}

TEST_CASE("append refuses to write after a bad record that a torn tail hides", "[workgraph][journal]") {
  fab::test::TempDir dir;
  auto file = dir / "journal.jsonl";
  Journal journal(file);
  REQUIRE(journal.append(note(1)));
  append_raw(file, "00000000 {}\n" + Journal::encode(note(2)).substr(0, 10));
  auto before = read_file(file);
  auto r = journal.append(note(3));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("bad journal record") != std::string::npos);
  CHECK(read_file(file) == before);
}

TEST_CASE("records without kind or time are bad", "[workgraph][journal]") {
  CHECK_FALSE(Journal::decode("00000000 {}"));
  std::string body = R"({"kind":"note"})";
  CHECK_FALSE(Journal::decode(fmt::format("{:08x} {}", fab::crc32(body), body)));
  std::string ok = R"({"kind":"note","time":"t"})";
  CHECK(Journal::decode(fmt::format("{:08x} {}", fab::crc32(ok), ok)));
  CHECK_FALSE(Journal::decode(fmt::format("{:08X} {}", fab::crc32(ok) ^ 1u, ok)));
  CHECK_FALSE(Journal::decode("zzzzzzzz " + ok));
  CHECK_FALSE(Journal::decode(""));
}
