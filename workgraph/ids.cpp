#include "workgraph/ids.h"

#include <charconv>

namespace fab {

namespace {
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

bool is_line_id(std::string_view s) {
  if (s.size() != kLineIdLength || !is_lower(s[0])) {
    return false;
  }
  for (char c : s) {
    if (!is_lower(c) && !is_digit(c)) {
      return false;
    }
  }
  return true;
}

std::optional<ItemIdParts> split_item_id(std::string_view item_id) {
  auto dot = item_id.find('.');
  if (dot == std::string_view::npos || !is_line_id(item_id.substr(0, dot))) {
    return std::nullopt;
  }
  auto num = item_id.substr(dot + 1);
  if (num.empty() || num.size() > 9 || num[0] == '0') {
    return std::nullopt;
  }
  for (char c : num) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
  }
  int n = 0;
  std::from_chars(num.data(), num.data() + num.size(), n);
  return ItemIdParts{std::string(item_id.substr(0, dot)), n};
}

bool is_item_id(std::string_view s) { return split_item_id(s).has_value(); }

std::string make_item_id(std::string_view line_id, int n) {
  return std::string(line_id) + "." + std::to_string(n);
}

std::string random_line_id(std::mt19937_64& rng) {
  static constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyz";
  static constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<std::size_t> letter(0, kLetters.size() - 1);
  std::uniform_int_distribution<std::size_t> alnum(0, kAlnum.size() - 1);
  std::string id;
  id += kLetters[letter(rng)];
  while (id.size() < kLineIdLength) {
    id += kAlnum[alnum(rng)];
  }
  return id;
}

}  // namespace fab
