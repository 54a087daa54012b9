// The engine's plugin jobs on their own: run_resolvers with the built-in deterministic refinery,
// called as the floor calls it (through the host, in a `fab __plugin-call` child).
#include <chrono>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "engine/jobs.h"
#include "plugins/host/plugin_search.h"

namespace fs = std::filesystem;
using namespace fab;
using namespace fab::engine;

namespace {

// A refinery found as the floor finds it: a built-in, or a test fixture (on FAB_PLUGIN_PATH).
PluginStep refinery(const std::string& name, nlohmann::json with) {
  plugins::HostOptions o;
  o.fab_exe = fs::path(FAB_TEST_BIN_DIR) / "fab";
  o.builtin_dirs = {FAB_TEST_BIN_DIR};
  o.path_dirs = {FAB_TEST_PLUGIN_DIR};
  auto ref = plugins::find_plugin(name, plugins::PluginKind::refinery, o);
  REQUIRE(ref);
  PluginStep step;
  step.use.plugin = name;
  step.use.timeout_s = 60;
  step.use.with = std::move(with);
  step.ref = *ref;
  return step;
}

}  // namespace

TEST_CASE("a file whose sides could not be read reaches no resolver, and the others are settled", "[engine][jobs]") {
  // Empty sides would "merge" cleanly into an empty file: such a file must never be asked about.
  ConflictFile unread;
  unread.path = "three-sided.txt";
  unread.error = "Error: cannot read the sides of 'three-sided.txt' in change abc";
  ConflictFile appended;
  appended.path = "list.txt";
  appended.base = "a\n";
  appended.ours = "a\nb\n";
  appended.theirs = "a\nc\n";
  auto out = run_resolvers({refinery("deterministic", {{"union", true}})}, {unread, appended});
  INFO(out.log);
  REQUIRE(out.files.size() == 2);
  CHECK_FALSE(out.files[0].resolved);
  CHECK(out.files[0].content.empty());
  CHECK(out.log.find("three-sided.txt: Error: cannot read the sides of 'three-sided.txt'") != std::string::npos);
  CHECK(out.files[1].resolved);
  CHECK(out.files[1].content == "a\nb\nc\n");
  CHECK(out.files[1].settled_by == "deterministic");
  REQUIRE(out.steps.size() == 1);  // one call, for list.txt only
  CHECK(out.steps[0].path == "list.txt");
}

TEST_CASE("an answer that empties a file one side deleted is not taken: it would land an empty file, not the deletion",
          "[engine][jobs]") {
  ConflictFile deleted;
  deleted.path = "gone.txt";
  deleted.base = "alpha\nbeta\n";
  deleted.ours = "";  // trunk deleted it (jj hands the side out empty)
  deleted.theirs = "alpha\nbeta from the item\n";
  const nlohmann::json empty = {{"ok", true}, {"resolved", true}, {"unresolved", 0}, {"content", ""}, {"message", "took trunk's"}};
  auto out = run_resolvers({refinery("echo-refinery", {{"result", empty}})}, {deleted});
  INFO(out.log);
  REQUIRE(out.files.size() == 1);
  CHECK_FALSE(out.files[0].resolved);
  CHECK(out.log.find("gone.txt: refinery echo-refinery settled a file one side deleted by emptying it") !=
        std::string::npos);
  REQUIRE(out.steps.size() == 1);
  CHECK_FALSE(out.steps[0].ok);

  SECTION("a file both sides kept may be answered empty") {
    deleted.ours = "beta\n";
    out = run_resolvers({refinery("echo-refinery", {{"result", empty}})}, {deleted});
    REQUIRE(out.files.size() == 1);
    CHECK(out.files[0].resolved);
    CHECK(out.files[0].content.empty());
  }
}
