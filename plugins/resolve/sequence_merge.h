#pragma once
// A 3-way merge of two sequences (lines, or a region's tokens) derived from a common base, that
// settles a stretch only when no way of aligning the diffs could make the two sides' edits meet.
//
// Each side's diff from the base is a list of hunks. A hunk whose first line equals the line after
// it (or whose last line equals the line before it) can slide: a diff may put it at any of those
// places and mean the same edit. Hunks of the two sides whose reach (every place they could slide
// to) overlaps or touches form a cluster. A cluster of one side's hunks takes that side. A
// cluster with both sides is merged at every combination of its hunks' places; it is settled only
// when every combination keeps the two sides' edits apart (at least one unchanged element between
// them) or makes them the same edit, and all combinations give the same result. Anything else is a
// conflict. So two insertions at the same place never pass for two separate ones.
//
// Only an anchor keeps edits apart: an element for which `anchors` is true (a line with a letter
// or digit, a token that is not a blank). Edits with only other elements between them (a lone
// "}", a blank line) meet: such lines are where a line diff aligns by accident.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fab::resolve {

struct Span {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
};

enum class Side { base, ours, theirs };

// A piece of the merged result: elements [span) of one of the three sequences.
struct Part {
  Side side;
  Span span;
};

struct Chunk {
  enum class Kind {
    stable,          // unchanged on both sides
    one_side,        // only one side changed it
    same_change,     // both sides made the same edit
    separate_edits,  // both sides edited, apart from each other however the diffs are aligned
    conflict,
  };
  Kind kind;
  Span base, ours, theirs;  // what the chunk covers in each sequence
  std::vector<Part> result;  // the merged elements; empty for a conflict (and for a deletion)
};

// Elements are ids (equal elements, equal ids); `anchors[i]` says whether base element i keeps
// edits apart (empty: every one does). Chunks cover all three sequences in order.
std::vector<Chunk> merge_sequences(const std::vector<int>& base, const std::vector<int>& ours,
                                   const std::vector<int>& theirs, const std::vector<bool>& anchors = {});

// Equal elements get equal ids, across every sequence interned with the same Interner.
class Interner {
 public:
  std::vector<int> ids(const std::vector<std::string_view>& elements);

 private:
  std::unordered_map<std::string_view, int> m_ids;
};

using Elements = std::vector<std::string_view>;

// The text of `parts`, elements taken from base, ours or theirs.
std::string text_of(const std::vector<Part>& parts, const Elements& base, const Elements& ours, const Elements& theirs);

// Whether a line can keep edits apart: it has a letter or a digit.
bool is_anchor_line(std::string_view line);

// The merged text of the three element sequences, or nothing when any chunk conflicts.
std::optional<std::string> merge_clean(const Elements& base, const Elements& ours, const Elements& theirs,
                                       bool (*is_anchor)(std::string_view));

}  // namespace fab::resolve
