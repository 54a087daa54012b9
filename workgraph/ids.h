#pragma once
// The shape of line and item ids: a line id is 6 chars [a-z0-9] starting with a letter ("k3x9qa"),
// an item id is "<line>.<n>" with n counting from 1 ("k3x9qa.3").
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace fab {

inline constexpr std::size_t kLineIdLength = 6;

bool is_line_id(std::string_view s);
bool is_item_id(std::string_view s);

// "k3x9qa", 3 -> "k3x9qa.3"
std::string make_item_id(std::string_view line_id, int n);

struct ItemIdParts {
  std::string line_id;
  int n = 0;
};
// The line and number of a well-formed item id; nullopt otherwise.
std::optional<ItemIdParts> split_item_id(std::string_view item_id);

// A random, well-formed line id (uniqueness is the caller's job).
std::string random_line_id(std::mt19937_64& rng);

}  // namespace fab
