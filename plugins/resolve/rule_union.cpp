// "union" (opt-in): both sides only added lines at one place: ours, then theirs.
#include <string>

#include "plugins/resolve/region_rules.h"

namespace fab::resolve {

std::optional<std::string> settle_union(const Region& region) {
  if (!region.base.empty()) return std::nullopt;
  std::string out(region.ours);
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out += region.theirs;
}

}  // namespace fab::resolve
