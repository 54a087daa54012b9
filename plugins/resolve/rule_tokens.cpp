// "token-merge": the sides edited different tokens of the same lines.
#include <string>

#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/region_rules.h"
#include "plugins/resolve/sequence_merge.h"

namespace fab::resolve {

namespace {

bool is_word(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_blank_char(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Words (a number with its dots, as in a version, is one word), runs of blanks, line ends, and
// every other character on its own.
std::vector<std::string_view> tokens(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t j = i + 1;
    if (is_word(c)) {
      const bool number = is_digit(c);
      while (j < text.size() && (is_word(static_cast<unsigned char>(text[j])) ||
                                 (number && text[j] == '.' && j + 1 < text.size() &&
                                  is_digit(static_cast<unsigned char>(text[j + 1]))))) {
        ++j;
      }
    } else if (is_blank_char(text[i])) {
      while (j < text.size() && is_blank_char(text[j])) ++j;
    }
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::optional<std::string> settle_tokens(const Region& region) {
  // Only both sides' edits of one same line. Measured on real merges (BENCHMARKS.md), people
  // merging longer regions (edits on neighbouring lines, a side that also added or removed lines)
  // keep one side's version of it about a quarter of the time.
  if (split_lines(region.base).size() != 1 || split_lines(region.ours).size() != 1 ||
      split_lines(region.theirs).size() != 1) {
    return std::nullopt;
  }
  return merge_clean(tokens(region.base), tokens(region.ours), tokens(region.theirs),
                     [](std::string_view t) { return !is_blank_char(t[0]) && t[0] != '\n'; });
}

}  // namespace fab::resolve
