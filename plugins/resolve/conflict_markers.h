#pragma once
// The one grammar of conflict markers. The merge writes blocks with it and reads them back, the
// resolvers refuse an answer that still has markers, the floor refuses a change that adds any
// (engine/conflict_markers.h), and the tests use it.
//
// A marker line is a run of at least 7 of one marker character at the start of the line, then the
// end of the line or a space or tab and a label (a "\r" before the end is ignored):
//   <  a block opens              >  it closes
//   |  git diff3: the base        =  git: the other side follows (never labelled)
//   %  jj "diff": a diff          \  jj "diff": the diff's "to" line
//   +  jj: a side's snapshot      -  jj "snapshot": the base
// jj lengthens every marker of a block when the file already has such a run; git writes
// --marker-size=N. Inside a block (after an opening run of N `<`, until the closing run of N `>`)
// every marker of length N counts. Outside one, only what no ordinary text looks like counts:
// `<`, `>` and `|` runs; `%` and `\` runs with a label; and a bare run of exactly seven `=` that
// cannot be a heading's underline or overline (Markdown setext, reStructuredText): one that does
// not follow a line of text and is not followed by a title line and another `=` run. A bare `-`,
// `+` or `%` run outside a block is a rule, a separator or a LaTeX comment line, not a marker.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fab::resolve {

enum class MarkerKind { open, close, base, separator, diff, diff_to, side, snapshot_base };

// What one line would be as a marker, ignoring its context.
struct MarkerShape {
  MarkerKind kind;
  std::size_t length;  // the run's length (>= 7)
  bool labelled;       // a label follows the run
};
std::optional<MarkerShape> marker_shape(std::string_view line);

struct MarkerLine {
  std::size_t index;  // 0-based, into the lines given
  MarkerShape shape;
};

// Every marker line among `lines` (consecutive lines of one file, each with or without its
// terminator), with the context rules above.
std::vector<MarkerLine> find_marker_lines(const std::vector<std::string_view>& lines);
// The same for a whole text.
std::vector<MarkerLine> find_marker_lines(std::string_view text);

// The marker lines of `text` that none of `sources` has (each source line counts once): what a
// resolver's answer adds when its inputs already held marker-like lines of their own.
std::vector<MarkerLine> added_marker_lines(std::string_view text, const std::vector<std::string_view>& sources);

// The marker length to write blocks with so that none of `texts` can be mistaken for a marker:
// 7, or one more than the longest marker-shaped run found at the start of any of their lines.
std::size_t marker_length_for(const std::vector<std::string_view>& texts);

// One git-style block ("<<<<<<<" ours ["|||||||" base] "=======" theirs ">>>>>>>", all of the
// opening run's length) in a partially merged file.
struct ConflictBlock {
  std::size_t first_line = 0;  // 0-based index of the opening line
  std::size_t line_count = 0;  // from the opening line to the closing line, both included
  std::string_view ours, base, theirs;  // texts, with terminators, pointing into the content
  bool has_base = false;
};

struct BlockParse {
  std::vector<ConflictBlock> blocks;
  // Empty when every block is complete and no stray marker is outside one; else what is wrong.
  std::string error;
  std::size_t error_line = 0;  // 1-based
};

// Reads the git-style blocks of `content` (as merge3 writes them, at any marker length).
BlockParse parse_conflict_blocks(std::string_view content);

}  // namespace fab::resolve
