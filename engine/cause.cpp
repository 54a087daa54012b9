#include "engine/cause.h"

namespace fab::engine {

std::string format_cause(const std::string& line, const std::vector<std::string>& items, const std::string& what) {
  std::string joined;
  for (const auto& i : items) joined += (joined.empty() ? "" : ",") + i;
  return line + " " + joined + ": " + what;
}

std::optional<Cause> parse_cause(std::string_view text) {
  auto space = text.find(' ');
  auto colon = text.find(": ");
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space || space == 0) {
    return std::nullopt;
  }
  Cause c;
  c.line = std::string(text.substr(0, space));
  std::string_view items = text.substr(space + 1, colon - space - 1);
  if (items.empty() || items.find(' ') != std::string_view::npos) return std::nullopt;
  for (std::size_t start = 0; start <= items.size();) {
    auto comma = items.find(',', start);
    if (comma == std::string_view::npos) comma = items.size();
    if (comma > start) c.items.emplace_back(items.substr(start, comma - start));
    start = comma + 1;
  }
  // Item ids are "<line>.<n>": anything else is some other cause that happens to have a colon.
  for (const auto& i : c.items) {
    if (i.size() <= c.line.size() + 1 || i.compare(0, c.line.size() + 1, c.line + ".") != 0) return std::nullopt;
  }
  c.what = std::string(text.substr(colon + 2));
  if (c.items.empty() || c.what.empty()) return std::nullopt;
  return c;
}

}  // namespace fab::engine
