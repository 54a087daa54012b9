#pragma once
// After `kill -9` of a fab run, the jj process it had started may still be finishing its operation
// (children run in their own process groups and outlive their parent). Recovery must not read the
// repo until they are done, or it would judge a state that is about to change.
#include <chrono>
#include <filesystem>

namespace fab::engine {

// Waits (up to `limit`) until no other process is running jj with -R naming `root` or a path
// under it. Returns how many such processes it saw at first (Linux /proc; 0 elsewhere).
int wait_for_orphaned_jj(const std::filesystem::path& root, std::chrono::milliseconds limit);

}  // namespace fab::engine
