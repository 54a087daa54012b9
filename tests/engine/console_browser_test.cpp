// The console's page in headless Chromium (tests/support/headless_chromium.h) during a real
// `fab run`: an item shown building moves to merged without a reload, and a dropped item's page
// shows why it was dropped. Without Chromium the test exits with 4, which ctest reports as skipped.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "engine/console.h"
#include "tests/engine/engine_fixture.h"
#include "tests/support/headless_chromium.h"

using namespace fab;
using namespace fab::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kSkip = 4;  // SKIP_RETURN_CODE in tests/engine/CMakeLists.txt

std::string js_string(const std::string& s) { return json(s).dump(); }

}  // namespace

TEST_CASE("the console page follows a real run live and shows why an item was dropped", "[engine][console][browser]") {
  const auto chromium = find_chromium();
  if (!chromium) {
    std::printf("SKIP: no chromium (scripts/bootstrap installs Debian's; FAB_CHROMIUM names another binary)\n");
    std::fflush(stdout);
    std::_Exit(kSkip);
  }
  FactoryFixture f;
  const auto gate = f.root().parent_path() / "gate";
  // Item 1 waits for the gate (so the page sees it building), item 2 fails at once and is dropped.
  const std::string agent = "if [ \"$FAB_ITEM_TITLE\" = \"Item 2\" ]; then echo 'cannot build item 2'; exit 1; fi; "
                            "while [ ! -f " + gate.string() + " ]; do sleep 0.1; done; echo done > \"$FAB_ITEM_ID.txt\"";
  auto line = f.stamp(blueprint_yaml(agent, "", 2, 1), requirement_md(2));
  const std::string first = line + ".1", second = line + ".2";
  auto console = engine::Console::start(f.factory(), {.port = 0});
  REQUIRE(console);

  RunThread run(f, {"run", "--until-idle"});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (f.line(line).items.at(0).state != ItemState::building || f.line(line).items.at(1).state != ItemState::dropped) {
    if (std::chrono::steady_clock::now() > until) FAIL("item 1 never built while item 2 was dropped");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  TempDir profile;
  HeadlessChromium browser(*chromium, profile.path());
  const auto tab = browser.open((*console)->url());
  const std::string row_state = "(() => { const r = document.getElementById(" + js_string("item-" + first) +
                                "); return r ? r.dataset.state : null; })()";
  browser.wait_until(tab, row_state, [](const json& v) { return v == "building"; }, "item 1 building");
  const auto page = browser.evaluate(tab, "window.fabPageId");
  REQUIRE(page.is_string());
  CHECK(browser.evaluate(tab, "document.getElementById(" + js_string("item-" + second) + ").dataset.state") == "dropped");
  browser.wait_until(tab, "document.getElementById('live').textContent", [](const json& v) { return v == "live"; },
                     "the event stream connected");

  write_file(gate, "go\n");
  browser.wait_until(tab, row_state, [](const json& v) { return v == "merged"; }, "item 1 merged");
  // The same page, never reloaded, saw it building and then merged.
  CHECK(browser.evaluate(tab, "window.fabPageId") == page);
  const auto seen = browser.evaluate(tab, "window.fabSeen[" + js_string(first) + "]");
  INFO(seen.dump());
  REQUIRE(seen.is_array());
  CHECK(seen.front() == "building");
  CHECK(seen.back() == "merged");
  // The counts come from another request than the rows: they catch up on the next event at the latest.
  browser.wait_until(tab, "document.getElementById('summary').textContent",
                     [](const json& v) { return v.is_string() && v.get<std::string>().find("merged 1") != std::string::npos; },
                     "the counts with item 1 merged", std::chrono::seconds(10));

  // The dropped item's page: its reason and what the agent said.
  browser.evaluate(tab, "location.hash = " + js_string("#/item/" + line + "/" + second));
  const auto reason = browser.wait_until(
      tab, "(() => { const r = document.getElementById('drop-reason'); return r ? r.textContent : null; })()",
      [](const json& v) { return v.is_string(); }, "the drop reason");
  CHECK(reason.get<std::string>() == f.line(line).items.at(1).drop_reason);
  CHECK(reason.get<std::string>().find("failed 1 of 1 attempts") != std::string::npos);
  CHECK(browser.evaluate(tab, "document.getElementById('transcript').textContent").get<std::string>().find(
            "cannot build item 2") != std::string::npos);
  CHECK(browser.evaluate(tab, "window.fabPageId") == page);

  run.thread.join();
  INFO(run.result.err);
  CHECK(run.result.ok());

  // With steering on, the page opened from the URL `fab serve --allow-steer` prints (#token=...)
  // retries the dropped item with its button; the run is over, so it stays queued.
  auto steer = engine::Console::start(f.factory(), {.port = 0, .allow_steer = true});
  REQUIRE(steer);
  const auto steer_tab = browser.open((*steer)->url() + "#token=" + (*steer)->token());
  browser.wait_until(steer_tab, "document.getElementById('stop').hidden", [](const json& v) { return v == false; },
                     "the stop button");
  browser.evaluate(steer_tab, "location.hash = " + js_string("#/item/" + line + "/" + second));
  browser.wait_until(steer_tab, "!!document.getElementById('retry')", [](const json& v) { return v == true; },
                     "the retry button");
  browser.evaluate(steer_tab, "document.getElementById('retry').click()");
  browser.wait_until(steer_tab, "(() => { const s = document.getElementById('item-state'); return s ? s.dataset.state : null; })()",
                     [](const json& v) { return v == "queued"; }, "the retried item queued");
  CHECK(f.line(line).items.at(1).state == ItemState::queued);
  CHECK(f.line(line).items.at(1).attempts == 0);
  // The read-only console has no buttons, whatever the URL says.
  const auto plain = browser.open((*console)->url() + "#token=" + (*steer)->token());
  browser.wait_until(plain, "!!document.getElementById('items')", [](const json& v) { return v == true; }, "the items");
  CHECK(browser.evaluate(plain, "document.getElementById('stop').hidden") == true);
}
