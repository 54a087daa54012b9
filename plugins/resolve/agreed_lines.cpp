#include "plugins/resolve/agreed_lines.h"

#include <algorithm>
#include <map>

#include "plugins/resolve/line_diff.h"

namespace fab::resolve {

namespace {

std::map<std::string_view, int> line_counts(std::string_view text) {
  std::map<std::string_view, int> counts;
  for (auto l : split_lines(text)) {
    const std::size_t end = l.find_last_not_of(" \t\r\n\f\v");
    if (end != std::string_view::npos) ++counts[l.substr(0, end + 1)];
  }
  return counts;
}

}  // namespace

std::optional<std::string> dropped_agreed_line(std::string_view ours, std::string_view theirs, std::string_view result) {
  const auto in_ours = line_counts(ours), in_theirs = line_counts(theirs), in_result = line_counts(result);
  for (const auto& [line, n] : in_ours) {
    auto t = in_theirs.find(line);
    if (t == in_theirs.end()) continue;
    auto r = in_result.find(line);
    if (r == in_result.end() || r->second < std::min(n, t->second)) return std::string(line);
  }
  return std::nullopt;
}

}  // namespace fab::resolve
