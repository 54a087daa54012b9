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

PluginStep deterministic(nlohmann::json with) {
  plugins::HostOptions o;
  o.fab_exe = fs::path(FAB_TEST_BIN_DIR) / "fab";
  o.builtin_dirs = {FAB_TEST_BIN_DIR};
  auto ref = plugins::find_plugin("deterministic", plugins::PluginKind::refinery, o);
  REQUIRE(ref);
  PluginStep step;
  step.use.plugin = "deterministic";
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
  auto out = run_resolvers({deterministic({{"union", true}})}, {unread, appended});
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
