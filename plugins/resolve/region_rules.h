#pragma once
// The rules that settle a conflict region the line merge left (merge3.h runs them in a fixed
// order). Each one settles a region only when it can show the result is what both sides meant;
// otherwise it returns nothing and the region goes to the next rule, and in the end to the next
// resolver.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fab::resolve {

class SyntaxCheck;

struct Region {
  std::string_view base, ours, theirs;              // whole lines, with terminators
  std::vector<std::string_view> before, after;      // merged lines next to it (nearest last / first)
  // The whole file's two sides, parsed (syntax.h): `ours` and `theirs` above are views into its
  // ours_text() and theirs_text(). Null, or not active(), when the file has no grammar or a side
  // does not parse; the syntax-aware rules settle nothing then.
  const SyntaxCheck* syntax = nullptr;
};

// "common-lines" (as git's zdiff3): the lines both sides begin and end the region with are theirs
// in common; what is left between is the region the other rules work on.
struct Narrowed {
  std::string_view prefix, suffix;
  Region inner;
};
Narrowed strip_common_lines(const Region& region);
// The inner region settled by the line merge alone (one side changed it, or both the same way).
std::optional<std::string> settle_by_lines(const Region& region);

// "whitespace-only": the sides differ only in whitespace at line ends (and CR): the side with
// less of it.
std::optional<std::string> settle_whitespace_only(const Region& region);

// "token-merge": the sides edited different tokens (words, numbers, single punctuation, runs of
// blanks, line ends) of the same lines: the region merged token by token with the same rules as
// lines, at least one unchanged token between the two sides' edits wherever they could be placed.
std::optional<std::string> settle_tokens(const Region& region);

// "sorted-insert": both sides only added lines, to the same sorted list (entries of one shape,
// sorted before and after each side's additions): all of them, in order.
std::optional<std::string> settle_sorted_insert(const Region& region);

// "sorted-declarations" (syntax-aware): both sides only added complete declarations or entries
// (each a whole named node on lines of its own: imports, includes, functions, JSON or YAML keys,
// list items) to one run of siblings their parser shows sorted, with no name twice: all of them,
// in that order.
std::optional<std::string> settle_sorted_declarations(const Region& region);

// "newer-version": the sides differ from the base and from each other only in version numbers
// (dotted numbers), neither lowered one, and one side's are at least the other's everywhere: that
// side.
std::optional<std::string> settle_newer_version(const Region& region);

// "union" (only when asked for: with.union): both sides only added lines here: ours, then theirs.
std::optional<std::string> settle_union(const Region& region);

}  // namespace fab::resolve
