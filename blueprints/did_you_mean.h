#pragma once
// "did you mean ...?" suggestions: the closest candidate to a misspelt word by edit distance.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace fab {

// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo (distance at most a
// third of the word's length, at least 1). Ties go to the earliest candidate.
std::optional<std::string> closest_match(std::string_view word, std::span<const std::string_view> candidates);

// "did you mean 'x'?" for the closest candidate, or "" when none is close.
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace fab
