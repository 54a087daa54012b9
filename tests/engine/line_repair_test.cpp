// A damaged line.json on a real factory (workgraph/store.h): the line is read from its journal,
// `fab recover` rebuilds the file and says so, and the factory goes on; a line whose journal is
// damaged is reported by `fab status` without hiding the others.
#include <catch2/catch.hpp>

#include "tests/engine/engine_fixture.h"

using namespace fab;
using namespace fab::test;

namespace {
const std::string kOwnFile = R"(mkdir -p items && echo "$FAB_ITEM_ID" > "items/$FAB_ITEM_ID.txt")";
}

TEST_CASE("fab recover rebuilds a truncated line.json from the journal and the run goes on", "[engine][recover][store]") {
  FactoryFixture f;
  auto line = f.stamp(blueprint_yaml(kOwnFile), requirement_md(3));
  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  auto more = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  const auto file = f.root() / ".factory" / "lines" / line / "line.json";
  const auto text = read_file(file);
  write_file(file, text.substr(0, text.size() / 3));

  // Still readable (from the journal), with a warning that names the file.
  auto status = f.fab({"status", "--json"});
  INFO(status.err);
  REQUIRE(status.ok());
  CHECK(status.err.find(file.string()) != std::string::npos);
  CHECK(status.out.find("\"merged\":3") != std::string::npos);

  auto recover = f.fab({"recover"});
  INFO(recover.out << recover.err);
  REQUIRE(recover.ok());
  CHECK(recover.out.find(line + " rebuilt line.json from its journal") != std::string::npos);
  CHECK(f.fab({"recover"}).out == "nothing to repair\n");
  for (const auto& item : f.line(line).items) CHECK(item.state == ItemState::merged);

  REQUIRE(f.fab({"run", "--until-idle"}).ok());
  for (const auto& item : f.line(more).items) CHECK(item.state == ItemState::merged);
}

TEST_CASE("fab status lists a line whose journal is damaged, and the others", "[engine][store]") {
  FactoryFixture f;
  auto bad = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  auto good = f.stamp(blueprint_yaml(kOwnFile), requirement_md(2));
  REQUIRE(f.fab({"run", "--until-idle", "--line", bad}).ok());
  const auto journal = f.root() / ".factory" / "lines" / bad / "journal.jsonl";
  auto text = read_file(journal);
  const auto third = text.find('\n', text.find('\n') + 1) + 1;
  text[third + 20] = text[third + 20] == 'q' ? 'r' : 'q';  // record 3 of many
  write_file(journal, text);

  auto status = f.fab({"status", "--json"});
  CHECK(status.exit_code == 1);
  CHECK(status.out.find("\"id\":\"" + good + "\"") != std::string::npos);
  CHECK(status.out.find("{\"error\":\"cannot read line " + bad + "\",\"id\":\"" + bad + "\"}") != std::string::npos);
  CHECK(status.err.find(journal.string() + ":3:1: bad journal record") != std::string::npos);
  CHECK(status.err.find("Hint:") != std::string::npos);
  auto table = f.fab({"status"});
  CHECK(table.out.find(bad + "  (cannot be read)") != std::string::npos);
  CHECK(read_file(journal) == text);
}
