#include "plugins/resolve/sequence_merge.h"

#include <algorithm>
#include <optional>

#include "plugins/resolve/line_diff.h"

namespace fab::resolve {

namespace {

using Ids = std::vector<int>;

// One side's edit: base [i1, i2) became side [j1, j2). It may slide `up` places up and `down`
// places down and still mean the same edit.
struct Edit {
  Side side;
  std::size_t i1, i2, j1, j2;
  std::size_t up = 0, down = 0;

  std::size_t lo() const { return i1 - up; }
  std::size_t hi() const { return i2 + down; }
  long delta() const { return static_cast<long>(j2 - j1) - static_cast<long>(i2 - i1); }
};

std::vector<Edit> edits_of(Side side, const Ids& base, const Ids& other) {
  std::vector<Edit> hunks;
  std::size_t i = 0, j = 0;
  for (auto [mi, mj] : common_lines(base, other)) {
    if (mi > i || mj > j) hunks.push_back({side, i, mi, j, mj});
    i = mi + 1;
    j = mj + 1;
  }
  if (i < base.size() || j < other.size()) hunks.push_back({side, i, base.size(), j, other.size()});
  for (std::size_t k = 0; k < hunks.size(); ++k) {
    Edit& h = hunks[k];
    const std::size_t prev_i = k > 0 ? hunks[k - 1].i2 : 0, prev_j = k > 0 ? hunks[k - 1].j2 : 0;
    const std::size_t next_i = k + 1 < hunks.size() ? hunks[k + 1].i1 : base.size();
    const std::size_t next_j = k + 1 < hunks.size() ? hunks[k + 1].j1 : other.size();
    // Up: the unchanged element before the hunk equals the hunk's last one (on each non-empty side).
    while (h.i1 - h.up > prev_i && h.j1 - h.up > prev_j &&
           (h.i1 == h.i2 || base[h.i1 - h.up - 1] == base[h.i2 - h.up - 1]) &&
           (h.j1 == h.j2 || other[h.j1 - h.up - 1] == other[h.j2 - h.up - 1])) {
      ++h.up;
    }
    // Down: the unchanged element after it equals its first one.
    while (h.i2 + h.down < next_i && h.j2 + h.down < next_j &&
           (h.i1 == h.i2 || base[h.i1 + h.down] == base[h.i2 + h.down]) &&
           (h.j1 == h.j2 || other[h.j1 + h.down] == other[h.j2 + h.down])) {
      ++h.down;
    }
  }
  return hunks;
}

// Hunks at one combination of places, each of its side's sequence.
class Placement {
 public:
  Placement(const Ids& base, const Ids& ours, const Ids& theirs, const std::vector<bool>& anchors)
      : m_base(base), m_ours(ours), m_theirs(theirs), m_anchors(anchors) {}

  // Whether base [from, to) keeps edits on either side of it apart.
  bool apart(std::size_t from, std::size_t to) const {
    if (from >= to) return false;
    if (m_anchors.empty()) return true;
    for (std::size_t i = from; i < to; ++i) {
      if (m_anchors[i]) return true;
    }
    return false;
  }

  // The merge of base [from, to) with `hunks` (sorted by i1, each side's in order), or nothing
  // when two sides' edits meet and differ. `separate` is set when both sides edited apart.
  std::optional<std::vector<Part>> merge(const std::vector<Edit>& hunks, std::size_t from, std::size_t to,
                                         bool* separate) const {
    std::vector<Part> parts;
    std::size_t pos = from;
    bool ours_alone = false, theirs_alone = false;
    for (std::size_t k = 0; k < hunks.size();) {
      // A group: hunks that overlap or touch.
      std::size_t end = k + 1, hi = hunks[k].i2;
      while (end < hunks.size() && !apart(hi, hunks[end].i1)) hi = std::max(hi, hunks[end++].i2);
      const std::size_t lo = hunks[k].i1;
      bool has_ours = false, has_theirs = false;
      for (std::size_t g = k; g < end; ++g) (hunks[g].side == Side::ours ? has_ours : has_theirs) = true;
      add(parts, Side::base, pos, lo);
      if (has_ours && has_theirs) {
        auto a = side_parts(hunks, k, end, Side::ours, lo, hi), b = side_parts(hunks, k, end, Side::theirs, lo, hi);
        if (ids(a) != ids(b)) return std::nullopt;
        parts.insert(parts.end(), a.begin(), a.end());
      } else {
        auto a = side_parts(hunks, k, end, has_ours ? Side::ours : Side::theirs, lo, hi);
        parts.insert(parts.end(), a.begin(), a.end());
        (has_ours ? ours_alone : theirs_alone) = true;
      }
      pos = hi;
      k = end;
    }
    add(parts, Side::base, pos, to);
    if (separate) *separate = ours_alone && theirs_alone;
    return parts;
  }

  Ids ids(const std::vector<Part>& parts) const {
    Ids out;
    for (const auto& p : parts) {
      const Ids& seq = p.side == Side::base ? m_base : p.side == Side::ours ? m_ours : m_theirs;
      out.insert(out.end(), seq.begin() + static_cast<long>(p.span.begin), seq.begin() + static_cast<long>(p.span.end));
    }
    return out;
  }

 private:
  static void add(std::vector<Part>& parts, Side side, std::size_t begin, std::size_t end) {
    if (begin < end) parts.push_back({side, {begin, end}});
  }

  // What `side` made of base [lo, hi): its hunks in the group, base elements between them.
  static std::vector<Part> side_parts(const std::vector<Edit>& hunks, std::size_t k, std::size_t end, Side side,
                                      std::size_t lo, std::size_t hi) {
    std::vector<Part> parts;
    std::size_t pos = lo;
    for (std::size_t g = k; g < end; ++g) {
      if (hunks[g].side != side) continue;
      add(parts, Side::base, pos, hunks[g].i1);
      add(parts, side, hunks[g].j1, hunks[g].j2);
      pos = hunks[g].i2;
    }
    add(parts, Side::base, pos, hi);
    return parts;
  }

  const Ids& m_base;
  const Ids& m_ours;
  const Ids& m_theirs;
  const std::vector<bool>& m_anchors;
};

constexpr std::size_t k_max_placements = 256;

// Settles a cluster with both sides' hunks (see the header), or says it conflicts.
std::optional<Chunk> settle_cluster(const Placement& placement, std::vector<Edit> hunks, std::size_t lo,
                                    std::size_t hi) {
  std::size_t combos = 1;
  for (const auto& h : hunks) {
    combos *= h.up + h.down + 1;
    if (combos > k_max_placements) return std::nullopt;
  }
  const std::vector<Edit> canonical = hunks;
  std::optional<Ids> agreed;
  std::vector<long> shift(hunks.size());
  for (std::size_t k = 0; k < hunks.size(); ++k) shift[k] = -static_cast<long>(hunks[k].up);
  for (std::size_t n = 0; n < combos; ++n) {
    std::vector<Edit> placed = canonical;
    bool valid = true;
    for (std::size_t k = 0; k < placed.size(); ++k) {
      placed[k].i1 += shift[k], placed[k].i2 += shift[k], placed[k].j1 += shift[k], placed[k].j2 += shift[k];
    }
    for (std::size_t k = 0; k < placed.size() && valid; ++k) {
      for (std::size_t m = k + 1; m < placed.size(); ++m) {
        if (placed[m].side == placed[k].side) {
          valid = placed[k].i2 <= placed[m].i1 && placed[k].j2 <= placed[m].j1;  // keep each side's order
          break;
        }
      }
    }
    if (valid) {
      std::stable_sort(placed.begin(), placed.end(), [](const Edit& x, const Edit& y) { return x.i1 < y.i1; });
      auto merged = placement.merge(placed, lo, hi, nullptr);
      if (!merged) return std::nullopt;
      Ids result = placement.ids(*merged);
      if (agreed && *agreed != result) return std::nullopt;
      agreed = std::move(result);
    }
    for (std::size_t k = 0; k < shift.size(); ++k) {  // next combination
      if (shift[k] < static_cast<long>(hunks[k].down)) {
        ++shift[k];
        break;
      }
      shift[k] = -static_cast<long>(hunks[k].up);
    }
  }
  bool separate = false;
  auto parts = placement.merge(canonical, lo, hi, &separate);
  if (!parts) return std::nullopt;
  Chunk c{separate ? Chunk::Kind::separate_edits : Chunk::Kind::same_change, {lo, hi}, {}, {}, std::move(*parts)};
  return c;
}

}  // namespace

std::vector<Chunk> merge_sequences(const Ids& base, const Ids& ours, const Ids& theirs, const std::vector<bool>& anchors) {
  std::vector<Edit> all = edits_of(Side::ours, base, ours);
  for (const auto& h : edits_of(Side::theirs, base, theirs)) all.push_back(h);
  std::stable_sort(all.begin(), all.end(), [](const Edit& x, const Edit& y) { return x.lo() < y.lo(); });

  const Placement placement(base, ours, theirs, anchors);
  std::vector<Chunk> chunks;
  std::size_t pos = 0;
  long off_ours = 0, off_theirs = 0;  // side index - base index, outside hunks
  auto at = [](std::size_t i, long off) { return static_cast<std::size_t>(static_cast<long>(i) + off); };
  for (std::size_t k = 0; k < all.size();) {
    std::size_t end = k + 1, hi = all[k].hi();
    while (end < all.size() && !placement.apart(hi, all[end].lo())) hi = std::max(hi, all[end++].hi());
    const std::size_t lo = all[k].lo();
    std::vector<Edit> cluster(all.begin() + static_cast<long>(k), all.begin() + static_cast<long>(end));
    if (pos < lo) {
      chunks.push_back({Chunk::Kind::stable, {pos, lo}, {at(pos, off_ours), at(lo, off_ours)},
                        {at(pos, off_theirs), at(lo, off_theirs)}, {{Side::base, {pos, lo}}}});
    }
    const Span ours_span{at(lo, off_ours), 0}, theirs_span{at(lo, off_theirs), 0};
    bool has_ours = false, has_theirs = false;
    for (const auto& h : cluster) {
      (h.side == Side::ours ? off_ours : off_theirs) += h.delta();
      (h.side == Side::ours ? has_ours : has_theirs) = true;
    }
    Chunk c{Chunk::Kind::conflict, {lo, hi}, {ours_span.begin, at(hi, off_ours)}, {theirs_span.begin, at(hi, off_theirs)}, {}};
    if (!(has_ours && has_theirs)) {
      c.kind = Chunk::Kind::one_side;
      if (has_ours && !c.ours.empty()) c.result = {{Side::ours, c.ours}};
      if (has_theirs && !c.theirs.empty()) c.result = {{Side::theirs, c.theirs}};
    } else {
      std::stable_sort(cluster.begin(), cluster.end(), [](const Edit& x, const Edit& y) { return x.i1 < y.i1; });
      if (auto settled = settle_cluster(placement, cluster, lo, hi)) {
        c.kind = settled->kind;
        c.result = std::move(settled->result);
      }
    }
    chunks.push_back(std::move(c));
    pos = hi;
    k = end;
  }
  if (pos < base.size() || chunks.empty()) {
    chunks.push_back({Chunk::Kind::stable, {pos, base.size()}, {at(pos, off_ours), at(base.size(), off_ours)},
                      {at(pos, off_theirs), at(base.size(), off_theirs)}, {{Side::base, {pos, base.size()}}}});
  }
  return chunks;
}

std::vector<int> Interner::ids(const std::vector<std::string_view>& elements) {
  std::vector<int> out;
  out.reserve(elements.size());
  for (auto e : elements) out.push_back(m_ids.emplace(e, static_cast<int>(m_ids.size())).first->second);
  return out;
}

std::string text_of(const std::vector<Part>& parts, const Elements& base, const Elements& ours, const Elements& theirs) {
  std::string out;
  for (const auto& p : parts) {
    const Elements& seq = p.side == Side::base ? base : p.side == Side::ours ? ours : theirs;
    for (std::size_t i = p.span.begin; i < p.span.end; ++i) out += seq[i];
  }
  return out;
}

bool is_anchor_line(std::string_view line) {
  return std::any_of(line.begin(), line.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u >= 0x80;
  });
}

std::optional<std::string> merge_clean(const Elements& base, const Elements& ours, const Elements& theirs,
                                       bool (*is_anchor)(std::string_view)) {
  Interner interner;
  const auto o = interner.ids(base), a = interner.ids(ours), b = interner.ids(theirs);
  std::vector<bool> anchors;
  for (auto e : base) anchors.push_back(is_anchor(e));
  std::string out;
  for (const auto& c : merge_sequences(o, a, b, anchors)) {
    if (c.kind == Chunk::Kind::conflict) return std::nullopt;
    out += text_of(c.result, base, ours, theirs);
  }
  return out;
}

}  // namespace fab::resolve
