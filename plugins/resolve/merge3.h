#pragma once
// The refinery's deterministic phase: a 3-way line merge (sequence_merge.h, which never lets two
// edits that could meet pass for separate ones) whose conflict regions then go through the
// region rules (region_rules.h) in a fixed order:
//   common-lines, whitespace-only, [token-merge, only when asked], sorted-insert,
//   sorted-declarations, [newer-version, only when asked], [union, only when asked]
// A region whose sides differ only in blank lines is left for the next resolver: which side's
// blank lines to keep is a guess.
// Where the file's name selects a grammar and both sides parse (syntax.h), every settlement must
// parse too and define no top-level name more often than a side does: a region rule's answer that
// does not is refused (the next rule tries), and a merged file that does not is left as one
// conflict for the next resolver. A region no rule settles is left as a git-style diff3 block,
// described as a Hunk for the next resolver. It never guesses.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fab::resolve {

struct MergeOptions {
  // The file's name (its extension selects the grammar, syntax.h); empty: text rules only.
  std::string path;
  // Both sides only added different lines at the same place: take ours' lines, then theirs'.
  // A guess (the order is not known), so only when asked for.
  bool allow_union = false;
  // Both sides raised the same version numbers to different ones: take the higher. What real
  // merges nearly always did, not a proof (a merge that keeps an older version on purpose gets
  // the wrong side), so only when asked for.
  bool allow_newer_version = false;
  // Both sides edited different tokens of one same line: both edits, token by token. People
  // merging such a line keep one side's version often enough (BENCHMARKS.md: on 9 projects it was
  // not tuned on, 9 of the 19 cases it settled were settled as they did; 36 of 49 on 25 projects)
  // that it is only when asked for.
  bool allow_token_merge = false;
  // Lines of merged content given as context around each unresolved hunk.
  int context_lines = 3;
  // Marker length; 0: 7, or longer when the texts have marker-like lines of their own.
  std::size_t marker_length = 0;
  // The labels after the opening, base and closing markers.
  std::string ours_label = "ours", base_label = "base", theirs_label = "theirs";
};

// One region the merge could not settle. Texts keep their line terminators.
struct Hunk {
  std::size_t line = 0;  // 1-based line in MergeOutcome::content where the block's opening marker is
  std::string base, ours, theirs;
  std::string context_before, context_after;  // merged lines around the marker block
};

// A conflicting region a rule settled.
struct Settlement {
  std::size_t line = 0;  // 1-based line in MergeOutcome::content where its text starts
  std::string rule;
};

struct MergeOutcome {
  // Merged text; each unresolved hunk is rendered as (markers `marker_length` long, 7 unless the
  // file has marker-like lines of its own)
  //   <<<<<<< ours / (ours) / ||||||| base / (base) / ======= / (theirs) / >>>>>>> theirs
  std::string content;
  std::vector<Hunk> unresolved;
  std::vector<Settlement> settled;
  // Settlements the syntax check refused, and why ("sorted-insert at line 12 refused: it does not
  // parse as c (line 14)").
  std::vector<std::string> refused;
  // Names of the rules that merged or settled anything, each once, in first-use order: the line
  // merge's "one-side", "same-change", "separate-edits", and the region rules'.
  std::vector<std::string> rules_applied;
  std::size_t marker_length = 7;

  bool clean() const { return unresolved.empty(); }
  // "2 regions settled (line 12: token-merge, line 40: common-lines); 1 left (line 80)", then any
  // refusals.
  std::string summary() const;
};

// Merges `ours` (trunk's side) and `theirs` (the item's side), both derived from `base`.
MergeOutcome merge3(std::string_view base, std::string_view ours, std::string_view theirs,
                    const MergeOptions& opts = {});

}  // namespace fab::resolve
