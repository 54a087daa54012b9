// "common-lines": what both sides begin and end a conflict region with is common to them.
#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/region_rules.h"
#include "plugins/resolve/sequence_merge.h"

namespace fab::resolve {

Narrowed strip_common_lines(const Region& region) {
  const auto b = split_lines(region.base), o = split_lines(region.ours), t = split_lines(region.theirs);
  std::size_t p = 0;
  while (p < o.size() && p < t.size() && o[p] == t[p]) ++p;
  std::size_t s = 0;
  while (s < o.size() - p && s < t.size() - p && o[o.size() - 1 - s] == t[t.size() - 1 - s]) ++s;
  // The base loses the part of that prefix and suffix it already had.
  std::size_t bp = 0;
  while (bp < p && bp < b.size() && b[bp] == o[bp]) ++bp;
  std::size_t bs = 0;
  while (bs < s && bs < b.size() - bp && b[b.size() - 1 - bs] == o[o.size() - 1 - bs]) ++bs;

  Narrowed n;
  n.prefix = join_lines(o, 0, p);
  n.suffix = join_lines(o, o.size() - s, o.size());
  n.inner = region;
  n.inner.base = join_lines(b, bp, b.size() - bs);
  n.inner.ours = join_lines(o, p, o.size() - s);
  n.inner.theirs = join_lines(t, p, t.size() - s);
  if (p > 0) {
    n.inner.before.insert(n.inner.before.end(), o.begin(), o.begin() + static_cast<long>(p));
  }
  if (s > 0) {
    n.inner.after.insert(n.inner.after.begin(), o.end() - static_cast<long>(s), o.end());
  }
  return n;
}

std::optional<std::string> settle_by_lines(const Region& region) {
  return merge_clean(split_lines(region.base), split_lines(region.ours), split_lines(region.theirs), &is_anchor_line);
}

}  // namespace fab::resolve
