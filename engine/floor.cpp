#include "engine/floor.h"

#include <fmt/format.h>

#include "engine/executor.h"
#include "engine/plan.h"
#include "engine/run_control.h"

namespace fab::engine {

Result<RunReport> run_floor(Factory& factory, const RunOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto began = std::filesystem::file_time_type::clock::now();
  Executor x(factory, options);
  // A stop request older than this run is stale; one sent while this run repairs is kept.
  {
    std::error_code ec;
    const auto when = std::filesystem::last_write_time(stop_file(factory), ec);
    if (!ec && when < began) clear_stop_request(factory);
  }
  StopSignals signals;
  auto say = [&](const std::string& text) {
    if (options.progress) options.progress("fab: " + text);
    if (options.events) options.events({RunEvent::Kind::note, {}, {}, {}, {}, 0, text});
  };
  bool idle_told = false;
  FAB_TRY_ASSIGN(auto repairs, x.start(true));
  for (const auto& r : repairs) say(fmt::format("recovered {}{}", r.item.empty() ? "" : r.item + " ", r.what));

  bool stopping = false, killed = false;
  Clock::time_point stop_time;
  for (;;) {
    if (!stopping && (StopSignals::received() > 0 || stop_requested(factory))) {
      stopping = true;
      stop_time = Clock::now();
      x.set_stopping();
      x.report().stopped = true;
      say(fmt::format("stopping: no new work starts; running calls get {} s to finish",
                      std::chrono::duration_cast<std::chrono::seconds>(options.grace).count()));
    }
    x.harvest();
    FAB_TRY(x.observe());
    // Plan and act until nothing is left to do now (a fixpoint), then wait for something to happen.
    for (int round = 0; round < 1000; ++round) {
      auto actions = plan(x.view());
      if (actions.empty()) break;
      for (const auto& a : actions) FAB_TRY(x.execute(a));
      x.harvest();
    }
    if (stopping) {
      if (!x.any_call_running()) break;
      if (!killed && Clock::now() - stop_time > options.grace) {
        say("grace period over: stopping the calls still running");
        x.kill_calls();
        killed = true;
      }
    } else if (options.until_idle && x.all_flights_blocked()) {
      break;  // what waits on a halted trunk stays where it is (finish() parks it); the report says why
    } else if (!x.any_flight()) {
      if (x.gc_due()) {
        FAB_TRY(x.idle());  // drained for gc.every_merged: collected with no workspace in use; work starts again
        continue;
      }
      if (options.until_idle) break;
      FAB_TRY(x.idle());  // nothing in flight: no workspace is kept while the floor waits
      if (!idle_told && options.events) options.events({RunEvent::Kind::idle, {}, {}, {}, {}, 0, {}});
      idle_told = true;
    } else {
      idle_told = false;
    }
    x.wait(stopping ? std::chrono::milliseconds(100) : options.tick);
  }
  // What finished inside the grace period has been taken; calls still unfinished are parked.
  for (int round = 0; round < 100; ++round) {
    x.harvest();
    auto actions = plan(x.view());
    if (actions.empty()) break;
    for (const auto& a : actions) FAB_TRY(x.execute(a));
  }
  FAB_TRY(x.finish());
  if (stopping) clear_stop_request(factory);
  return x.report();
}

}  // namespace fab::engine
