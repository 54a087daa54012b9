#pragma once
// `fab gc`: jj keeps every operation, and every commit an operation ever saw, and collects none of
// them by itself, so a factory that runs for weeks fills its disk (measured: about 230 KB and 28
// files in .jj per merged item). This trims jj's operation log below what fab still needs, lets jj
// collect what nothing reaches any more (its gc runs git's), rebuilds jj's index (which its gc
// never trims), and says what it kept.
//
// The retention rule: an operation is kept when it is
//   - one of the newest `keep_operations` (what `fab recover --to` can go back to), or
//   - at or after the operation the newest record of an item in flight (building, inspecting,
//     refining) names: what a run that died left of it may lie there. Queued, reworked and
//     finished items need none (a line collected as it runs keeps only the newest operations);
// and no working copy may go stale: the operation each workspace's working copy was last updated at
// (fab never updates the default one: it works with --ignore-working-copy), and every operation
// before it, keep their IDs. What lies between is abandoned (`jj op abandon W..X`); jj then gives
// the kept operations after it new IDs, and each line's journal notes which of the operations it
// names were trimmed and which were renamed to what (engine/op_retention.h), so that
// `fab recover --to` can still place them.
// The caller holds the run lock, and no run's workspace pool is there (its working copies would
// hold everything since the pool was made).
#include <cstdint>
#include <string>
#include <vector>

#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct StorageSize {
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
};

struct GcReport {
  std::size_t operations_before = 0;
  std::size_t operations_kept = 0;
  std::string oldest_kept;  // its id; empty when nothing was trimmed
  std::string why;          // why the oldest kept operation is kept
  StorageSize before;       // the repo's storage (.jj, and .git when colocated)
  StorageSize after;
  std::vector<std::string> warnings;  // what it could not do and went on without (a leftover worktree)
};

// Trims, collects, and reports. `keep_operations` >= 1.
Result<GcReport> collect_garbage(Factory& factory, std::size_t keep_operations);

// What the repo's storage holds: .jj, and the colocated .git.
StorageSize storage_size(const Factory& factory);

// One line per fact, for `fab gc` to print.
std::vector<std::string> describe(const GcReport& report);

}  // namespace fab::engine
