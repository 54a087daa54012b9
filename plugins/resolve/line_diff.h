#pragma once
// Line diff for the 3-way merge: splits text into lines (keeping each line's terminator, so CRLF and a
// missing final newline survive a round trip) and finds a longest common subsequence of two line
// sequences with Myers' O(ND) algorithm in linear space.
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace fab::resolve {

// The lines of `text`, each including its "\n" (or "\r\n"); the last one may have no terminator.
std::vector<std::string_view> split_lines(std::string_view text);

// Whether `text` (a line, or several) holds nothing but blanks: spaces, tabs, \r, \n, \f, \v.
bool only_blanks(std::string_view text);

// `line` without its "\n" or "\r\n".
std::string_view without_eol(std::string_view line);

// Lines [from, to) of `lines` (views into one text) as one view.
std::string_view join_lines(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to);

// Pairs (i, j) with a[i] == b[j], strictly increasing in both i and j, forming a longest common
// subsequence of `a` and `b`. Lines are given as ids (equal lines, equal ids).
std::vector<std::pair<std::size_t, std::size_t>> common_lines(const std::vector<int>& a,
                                                              const std::vector<int>& b);

}  // namespace fab::resolve
