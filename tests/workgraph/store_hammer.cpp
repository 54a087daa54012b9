// Test helper (not a test), run by the workgraph tests as a real second process.
//   workgraph_store_hammer work <factory-dir> <line-id> <worker> <items-per-worker> <lines-to-create>
//   workgraph_store_hammer hold <lock-file> <milliseconds>   take a HolderLock, sleep, exit
//   workgraph_store_hammer trylock <lock-file>               print "acquired" or "busy <holder>"
//   workgraph_store_hammer walk <factory-dir> <line-id> <checkpoint-min-bytes>
// `walk` moves every item of the line, from whatever state it is in, on through building,
// inspecting, refining and merged (attempts + 1 at each step), printing "<item> <state> <attempts>"
// after each transition the store confirmed: a test kills it at random instants and checks that
// nothing it confirmed was lost and nothing was done twice.
// `work` hammers one factory so two copies running at once show that the store's lock loses
// nothing: worker w walks items <line>.(w*K+1) .. <line>.(w*K+K) through building, inspecting, refining and
// merged; after each item it bumps `attempts` of the shared item <line>.(2K+1) by one; then it
// creates the given number of new lines. Exits 0 when all went well; prints the error otherwise.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "workgraph/holder_lock.h"
#include "workgraph/ids.h"
#include "workgraph/store.h"

namespace {

fab::Status hammer(const std::string& dir, const std::string& line, int worker, int per_worker,
                   int creates) {
  FAB_TRY_ASSIGN(fab::Store store, fab::Store::open(dir));
  const std::string shared = fab::make_item_id(line, 2 * per_worker + 1);
  const fab::ItemState path[] = {fab::ItemState::building, fab::ItemState::inspecting,
                                 fab::ItemState::refining, fab::ItemState::merged};
  for (int i = 1; i <= per_worker; ++i) {
    const std::string id = fab::make_item_id(line, worker * per_worker + i);
    for (auto to : path) {
      FAB_TRY(store.transition(id, to, fmt::format("worker {}", worker),
                               {{"worker", worker}, {"attempt", 1}},
                               [](fab::Item& item) { item.attempts += 1; }));
    }
    FAB_TRY(store.update_item(shared, [](fab::Item& item) { item.attempts += 1; }));
  }
  for (int i = 0; i < creates; ++i) {
    FAB_TRY_ASSIGN(std::string id, store.new_line_id());
    fab::Line l;
    l.id = id;
    l.blueprint = "hammer";
    l.requirement = fmt::format("made by worker {}", worker);
    fab::Item item;
    item.id = fab::make_item_id(id, 1);
    item.line = id;
    item.title = "only item";
    FAB_TRY(store.create_line(l, {item}));
  }
  return {};
}

fab::Status walk(const std::string& dir, const std::string& line, std::uint64_t checkpoint_min_bytes) {
  FAB_TRY_ASSIGN(fab::Store store, fab::Store::open(dir, {.checkpoint_min_bytes = checkpoint_min_bytes}));
  FAB_TRY_ASSIGN(fab::LineRecord record, store.load_line(line));
  for (const auto& item : record.items) {
    for (;;) {
      FAB_TRY_ASSIGN(fab::Item now, store.find_item(item.id));
      std::optional<fab::ItemState> next;
      switch (now.state) {
        case fab::ItemState::queued: next = fab::ItemState::building; break;
        case fab::ItemState::building: next = fab::ItemState::inspecting; break;
        case fab::ItemState::inspecting: next = fab::ItemState::refining; break;
        case fab::ItemState::refining: next = fab::ItemState::merged; break;
        default: break;
      }
      if (!next) break;
      FAB_TRY_ASSIGN(fab::Item moved, store.transition(item.id, *next, "walk", {{"attempts", now.attempts + 1}},
                                                       [](fab::Item& i) { i.attempts += 1; }));
      std::printf("%s %s %d\n", moved.id.c_str(), std::string(fab::to_string(moved.state)).c_str(), moved.attempts);
      std::fflush(stdout);
    }
  }
  return {};
}

fab::Status hold(const std::string& file, int ms) {
  FAB_TRY_ASSIGN(fab::LockAttempt attempt, fab::HolderLock::try_acquire(file));
  if (!attempt.lock) {
    return fab::fail("busy " + attempt.holder.describe());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {};
}

fab::Status try_lock(const std::string& file) {
  FAB_TRY_ASSIGN(fab::LockAttempt attempt, fab::HolderLock::try_acquire(file));
  std::printf("%s\n", attempt.lock ? "acquired" : ("busy " + attempt.holder.describe()).c_str());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  fab::Status ok;
  if (mode == "work" && argc == 7) {
    ok = hammer(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]), std::atoi(argv[6]));
  } else if (mode == "hold" && argc == 4) {
    ok = hold(argv[2], std::atoi(argv[3]));
  } else if (mode == "walk" && argc == 5) {
    ok = walk(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  } else if (mode == "trylock" && argc == 3) {
    ok = try_lock(argv[2]);
  } else {
    std::fprintf(stderr, "usage: %s work|walk|hold|trylock ... (see the source)\n", argv[0]);
    return 2;
  }
  if (!ok) {
    std::fputs(ok.error().render().c_str(), stderr);
    return 1;
  }
  return 0;
}
