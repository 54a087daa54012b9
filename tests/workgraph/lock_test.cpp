#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "substrate/process.h"
#include "tests/support/temp_dir.h"
#include "workgraph/file_lock.h"
#include "workgraph/holder_lock.h"

using namespace std::chrono_literals;
using fab::HolderLock;

namespace {
std::string hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Runs the helper program (safe to call from any thread: no Catch assertions inside).
fab::ProcessResult hammer(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
  args.insert(args.begin(), FAB_STORE_HAMMER);
  auto r = fab::run_process({.argv = args, .timeout = timeout});
  if (!r) {
    fab::ProcessResult failed;
    failed.err = r.error().render();
    return failed;
  }
  return *r;
}
}  // namespace

TEST_CASE("FileLock excludes a second holder until released", "[workgraph][lock]") {
  fab::test::TempDir dir;
  auto file = dir / "lock";
  auto first = fab::FileLock::acquire(file);
  REQUIRE(first);
  std::atomic<bool> second_has_it{false};
  auto second = std::async(std::launch::async, [&] {
    auto lock = fab::FileLock::acquire(file);
    second_has_it = lock.has_value();
    return lock.has_value();
  });
  CHECK(second.wait_for(300ms) == std::future_status::timeout);
  CHECK_FALSE(second_has_it);
  { auto released = std::move(*first); }
  REQUIRE(second.wait_for(20s) == std::future_status::ready);
  CHECK(second.get());
}

TEST_CASE("FileLock on an impossible path is an error", "[workgraph][lock]") {
  fab::test::TempDir dir;
  auto r = fab::FileLock::acquire(dir / "missing" / "lock");
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("cannot open lock file") != std::string::npos);
  CHECK_FALSE(r.error().hint.empty());
}

TEST_CASE("HolderLock records the holder and reports it to the next comer", "[workgraph][lock]") {
  fab::test::TempDir dir;
  auto file = dir / "run.lock";
  auto first = HolderLock::try_acquire(file);
  REQUIRE(first);
  REQUIRE(first->lock);
  CHECK(first->holder.pid == ::getpid());
  CHECK(first->holder.hostname == hostname());
  CHECK(first->lock->info().since.size() == 24);
  CHECK(fab::test::read_file(file).find(std::to_string(::getpid())) != std::string::npos);

  auto second = HolderLock::try_acquire(file);
  REQUIRE(second);
  CHECK_FALSE(second->lock);
  CHECK(second->holder.pid == ::getpid());
  CHECK(second->holder.hostname == hostname());
  CHECK(second->holder.since == first->holder.since);
  CHECK(second->holder.describe() ==
        "pid " + std::to_string(::getpid()) + " on " + hostname() + " since " + first->holder.since);

  first->lock->release();
  CHECK(fab::test::read_file(file).empty());
  auto third = HolderLock::try_acquire(file);
  REQUIRE(third);
  CHECK(third->lock);
}

TEST_CASE("HolderLock is seen across processes and freed when the holder dies", "[workgraph][lock]") {
  fab::test::TempDir dir;
  auto file = (dir / "run.lock").string();

  SECTION("another process holds it") {
    auto child = std::async(std::launch::async, [&] { return hammer({"hold", file, "3000"}); });
    // Wait until the child has recorded itself (polling with try_acquire could steal the lock).
    for (int i = 0; i < 500 && fab::test::read_file(file).find("pid") == std::string::npos; ++i) {
      std::this_thread::sleep_for(20ms);
    }
    auto attempt = HolderLock::try_acquire(file);
    REQUIRE(attempt);
    CHECK_FALSE(attempt->lock);
    fab::LockHolder seen = attempt->holder;
    REQUIRE(seen.pid != 0);
    CHECK(seen.pid != ::getpid());
    CHECK(seen.hostname == hostname());
    CHECK_FALSE(seen.since.empty());
    auto result = child.get();
    CHECK(result.ok());
    auto after = HolderLock::try_acquire(file);
    REQUIRE(after);
    CHECK(after->lock);
  }

  SECTION("a killed holder leaves no stale lock") {
    auto killed = hammer({"hold", file, "60000"}, 1500ms);
    CHECK(killed.timed_out);
    auto after = HolderLock::try_acquire(file);
    REQUIRE(after);
    CHECK(after->lock);
  }

  SECTION("our lock is visible to a child, and children do not inherit it") {
    auto mine = HolderLock::try_acquire(file);
    REQUIRE(mine);
    REQUIRE(mine->lock);
    auto busy = hammer({"trylock", file});
    CHECK(busy.out == "busy " + mine->holder.describe() + "\n");
    // A long-running child started while we hold the lock must not keep it after we let go.
    auto sleeper = std::async(std::launch::async, [] {
      return fab::run_process({.argv = {"sleep", "3"}});
    });
    std::this_thread::sleep_for(300ms);
    mine->lock->release();
    auto free = hammer({"trylock", file});
    CHECK(free.out == "acquired\n");
    sleeper.get();
  }
}
