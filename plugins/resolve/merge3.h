#pragma once
// Deterministic line-based 3-way merge (classic diff3) for the refinery: settles every conflicted
// region that is safe to settle mechanically and leaves the rest as git-style diff3 marker blocks,
// described as Hunks for a later resolver. It never guesses.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fab::resolve {

struct MergeOptions {
  // Both sides only added different lines at the same place: take ours' lines, then theirs'.
  bool allow_union = false;
  // Lines of merged content given as context around each unresolved hunk.
  int context_lines = 3;
};

// One region the merge could not settle. Texts keep their line terminators.
struct Hunk {
  std::size_t line = 0;  // 1-based line in MergeOutcome::content where "<<<<<<< ours" is
  std::string base, ours, theirs;
  std::string context_before, context_after;  // merged lines around the marker block
};

struct MergeOutcome {
  // Merged text; each unresolved hunk is rendered as
  //   <<<<<<< ours / (ours) / ||||||| base / (base) / ======= / (theirs) / >>>>>>> theirs
  std::string content;
  std::vector<Hunk> unresolved;
  // Names of the rules that settled conflicting regions, each once, in first-use order:
  // "same-change", "one-side", "whitespace-only", "union".
  std::vector<std::string> rules_applied;

  bool clean() const { return unresolved.empty(); }
};

// Merges `ours` (trunk's side) and `theirs` (the item's side), both derived from `base`.
MergeOutcome merge3(std::string_view base, std::string_view ours, std::string_view theirs,
                    const MergeOptions& opts = {});

}  // namespace fab::resolve
