#pragma once
// Who may run the floor and how it is told to stop:
//   .factory/run.lock  held by the one `fab run` (or `fab recover`) working on a factory; a second
//                      one is refused with the holder's pid, host and start time.
//   .factory/stop      a stop request (`fab stop` from another terminal); the floor checks it each
//                      tick and removes it when it stops.
//   SIGINT / SIGTERM   the first asks the floor to stop (grace period for running agents); the
//                      second kills every child at once and exits (recovery repairs the rest).
#include <filesystem>

#include "substrate/error.h"
#include "workgraph/factory.h"
#include "workgraph/holder_lock.h"

namespace fab::engine {

std::filesystem::path run_lock_file(const Factory& factory);
std::filesystem::path stop_file(const Factory& factory);

// Takes .factory/run.lock or fails naming who holds it (`doing`: "run", "recover", for the message).
Result<HolderLock> take_run_lock(const Factory& factory, const std::string& doing);

// Writes the stop request. Returns who holds the run lock (pid 0 and no file written if no run is
// active).
Result<LockHolder> request_stop(const Factory& factory);
bool stop_requested(const Factory& factory);
void clear_stop_request(const Factory& factory);

// Installs SIGINT/SIGTERM handlers for its lifetime (restoring the old ones after).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // How many stop signals arrived since construction.
  static int received();
};

}  // namespace fab::engine
