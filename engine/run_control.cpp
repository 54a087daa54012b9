#include "engine/run_control.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

#include <fmt/format.h>

#include "substrate/process.h"
#include "workgraph/durable_file.h"

namespace fab::engine {
namespace {

std::atomic<int> g_signals{0};
struct sigaction g_old_int {};
struct sigaction g_old_term {};

extern "C" void on_stop_signal(int) {
  int n = g_signals.fetch_add(1) + 1;
  if (n >= 2) {
    fab::kill_all_children();
    static const char msg[] = "fab: second stop signal: stopping at once\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(130);
  }
}

}  // namespace

std::filesystem::path run_lock_file(const Factory& factory) { return factory.factory_dir() / "run.lock"; }
std::filesystem::path stop_file(const Factory& factory) { return factory.factory_dir() / "stop"; }

Result<HolderLock> take_run_lock(const Factory& factory, const std::string& doing) {
  FAB_TRY_ASSIGN(auto attempt, HolderLock::try_acquire(run_lock_file(factory)));
  if (!attempt.lock) {
    return fail(fmt::format("cannot {}: another fab run is working on this factory ({})", doing,
                            attempt.holder.describe()),
                "wait for it to finish, or stop it with `fab stop`");
  }
  return std::move(*attempt.lock);
}

Result<LockHolder> request_stop(const Factory& factory) {
  FAB_TRY_ASSIGN(auto attempt, HolderLock::try_acquire(run_lock_file(factory)));
  if (attempt.lock) return LockHolder{};  // nobody is running (the lock dies with `attempt`)
  FAB_TRY(write_file_atomic(stop_file(factory), fmt::format("stop requested by pid {}\n", ::getpid())));
  return attempt.holder;
}

bool stop_requested(const Factory& factory) { return std::filesystem::exists(stop_file(factory)); }

void clear_stop_request(const Factory& factory) {
  std::error_code ec;
  std::filesystem::remove(stop_file(factory), ec);
}

StopSignals::StopSignals() {
  g_signals.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

int StopSignals::received() { return g_signals.load(); }

}  // namespace fab::engine
