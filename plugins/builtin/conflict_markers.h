#pragma once
// Reads the diff3 conflict blocks left in a partially merged file back into a MergeOutcome, so a
// later resolver (the `llm` refinery) works on exactly what the earlier ones left unsettled.
#include <string>

#include "plugins/resolve/merge3.h"

namespace fab::builtin {

// Blocks as merge3 writes them, at any marker length (plugins/resolve/conflict_markers.h):
// "<<<<<<< ours" / ours / ["||||||| base" / base /] "=======" / theirs / ">>>>>>> theirs".
// Throws std::runtime_error naming the line of a block that is not complete.
resolve::MergeOutcome outcome_from_markers(const std::string& content, int context_lines = 3);

}  // namespace fab::builtin
