// "whitespace-only": the sides differ only in blanks at line ends.
#include <string>

#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/region_rules.h"

namespace fab::resolve {

namespace {

std::string_view trim_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

std::optional<std::string> settle_whitespace_only(const Region& region) {
  const auto o = split_lines(region.ours), t = split_lines(region.theirs);
  if (o.size() != t.size() || region.ours == region.theirs) return std::nullopt;
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (trim_end(o[i]) != trim_end(t[i])) return std::nullopt;
  }
  return std::string(region.theirs.size() < region.ours.size() ? region.theirs : region.ours);
}

}  // namespace fab::resolve
