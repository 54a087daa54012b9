// "sorted-declarations": both sides added whole declarations to one sorted run of siblings.
//
// Two additions at one place are settled only when their order is not a guess: on real merges
// people put ours' first about as often as theirs' (BENCHMARKS.md), so only a run of siblings the
// file keeps sorted gives the order. The parser says what an entry is (a multi-line function, an
// import, a JSON key with its value), so entries need not share a shape or fit on one line; the
// blank lines between them are the run's own, the same between every two of its entries.
#include <algorithm>
#include <cctype>
#include <string>

#include "plugins/resolve/region_rules.h"
#include "plugins/resolve/syntax.h"

namespace fab::resolve {

namespace {

// A name as files sort it: without the quotes or brackets around it, letters in one case
// ("util/LazySet" sits between UnsupportedFeatureWarning and WebpackError).
std::string sort_key(std::string_view name) {
  while (!name.empty() && std::string_view("\"'<`").find(name.front()) != std::string_view::npos) name.remove_prefix(1);
  while (!name.empty() && std::string_view("\"'>`").find(name.back()) != std::string_view::npos) name.remove_suffix(1);
  std::string key(name);
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

// An entry's whole lines in `text`: from its first line's start to its last line's end.
struct EntryLines {
  std::size_t begin, end;
};
std::optional<EntryLines> lines_of(std::string_view text, const SyntaxNode& n) {
  const std::size_t nl = n.begin == 0 ? std::string_view::npos : text.rfind('\n', n.begin - 1);
  const std::size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
  if (!only_blanks(text.substr(begin, n.begin - begin))) return std::nullopt;  // something before it on its line
  // A node may end with its line's terminator, as Markdown's blocks do.
  if (n.end > n.begin && text[n.end - 1] == '\n') return EntryLines{begin, n.end};
  const std::size_t eol = text.find('\n', n.end);
  if (eol == std::string_view::npos) return std::nullopt;
  // After it on its last line: a separator (",", ";") at most.
  if (text.substr(n.end, eol - n.end).find_first_not_of(" \t\r,;") != std::string_view::npos) return std::nullopt;
  return EntryLines{begin, eol + 1};
}

struct Entry {
  std::string key;   // what the run is sorted by: the entry's name (sort_key)
  std::string text;  // its whole lines, from the side that added it
};

// What one side added: its entries, the blank lines before the first and after the last (inside
// the region), the blank lines the run keeps between every two entries, and the run's other
// entries around it.
struct Addition {
  std::vector<Entry> entries;
  std::string lead, trail, gap;
  std::vector<std::string> run_before, run_after;  // keys, nearest last / first
  std::vector<std::string> others;                 // keys of every other child of the parent
  std::string parent_type;
};

std::optional<Addition> addition_of(const Syntax& tree, std::string_view text, std::string_view added) {
  const std::size_t begin = static_cast<std::size_t>(added.data() - text.data()), end = begin + added.size();
  auto siblings = tree.siblings_covering(begin, end);
  if (!siblings) return std::nullopt;
  Addition a;
  a.parent_type = siblings->parent.type;
  const std::string& type = siblings->inside.front().type;
  if (type.find("comment") != std::string::npos) return std::nullopt;
  std::vector<EntryLines> spans;
  for (const auto& n : siblings->inside) {
    auto l = lines_of(text, n);
    if (n.type != type || !l || l->begin < begin || l->end > end || (!spans.empty() && l->begin < spans.back().end)) {
      return std::nullopt;
    }
    spans.push_back(*l);
    a.entries.push_back({sort_key(n.name), std::string(text.substr(l->begin, l->end - l->begin))});
  }
  a.lead = text.substr(begin, spans.front().begin - begin);
  a.trail = text.substr(spans.back().end, end - spans.back().end);
  // The run: the parent's other children of that kind next to the addition, as far as they are
  // sorted (a file may keep groups of entries each sorted on its own).
  std::size_t first = 0;
  while (siblings->all[first].begin != siblings->inside.front().begin) ++first;
  const std::size_t last = first + siblings->inside.size();
  for (std::size_t k = 0; k < siblings->all.size(); ++k) {
    if (k < first || k >= last) a.others.push_back(sort_key(siblings->all[k].name));
  }
  std::vector<std::string> gaps;  // between every two entries of the run, the added ones too
  auto gap_between = [&](const SyntaxNode& x, const SyntaxNode& y) -> std::optional<std::string> {
    auto lx = lines_of(text, x), ly = lines_of(text, y);
    if (!lx || !ly || ly->begin < lx->end) return std::nullopt;
    return std::string(text.substr(lx->end, ly->begin - lx->end));
  };
  std::size_t lo = first, hi = last;
  for (std::size_t k = first; k-- > 0 && siblings->all[k].type == type;) {
    std::string key = sort_key(siblings->all[k].name);
    if (!a.run_before.empty() && !(key < a.run_before.front())) break;
    a.run_before.insert(a.run_before.begin(), std::move(key));
    lo = k;
  }
  for (std::size_t k = last; k < siblings->all.size() && siblings->all[k].type == type; ++k) {
    std::string key = sort_key(siblings->all[k].name);
    if (!a.run_after.empty() && !(a.run_after.back() < key)) break;
    a.run_after.push_back(std::move(key));
    hi = k + 1;
  }
  for (std::size_t k = lo; k + 1 < hi; ++k) {
    auto g = gap_between(siblings->all[k], siblings->all[k + 1]);
    if (!g || !only_blanks(*g)) return std::nullopt;
    gaps.push_back(std::move(*g));
  }
  if (gaps.empty() || std::adjacent_find(gaps.begin(), gaps.end(), std::not_equal_to<>()) != gaps.end()) {
    return std::nullopt;  // no one way of separating entries to follow
  }
  a.gap = gaps.front();
  return a;
}

bool strictly_sorted(const std::vector<std::string>& keys) {
  return std::adjacent_find(keys.begin(), keys.end(), std::greater_equal<>()) == keys.end();
}

std::vector<std::string> run_with(const Addition& around, const std::vector<Entry>& entries) {
  std::vector<std::string> run(around.run_before);
  for (const auto& e : entries) run.push_back(e.key);
  run.insert(run.end(), around.run_after.begin(), around.run_after.end());
  return run;
}

}  // namespace

std::optional<std::string> settle_sorted_declarations(const Region& region) {
  const SyntaxCheck* syntax = region.syntax;
  if (!syntax || !syntax->active() || !region.base.empty() || region.ours.empty() || region.theirs.empty()) {
    return std::nullopt;
  }
  auto ours = addition_of(*syntax->ours(), syntax->ours_text(), region.ours);
  auto theirs = addition_of(*syntax->theirs(), syntax->theirs_text(), region.theirs);
  // One parent, one way of separating entries, and the same blank lines around both additions: the
  // merged entries sit in the file exactly as each side's do.
  if (!ours || !theirs || ours->parent_type != theirs->parent_type || ours->gap != theirs->gap ||
      ours->lead != theirs->lead || ours->trail != theirs->trail) {
    return std::nullopt;
  }
  // Between the same two entries on both sides; each side's run long enough to show it is kept
  // sorted (three entries of its own), and sorted with that side's additions.
  auto enough = [](const Addition& a) { return !a.run_before.empty() && a.run_before.size() + a.run_after.size() >= 3; };
  if (!enough(*ours) || !enough(*theirs) || ours->run_before.back() != theirs->run_before.back() ||
      ours->run_after.empty() != theirs->run_after.empty() ||
      (!ours->run_after.empty() && ours->run_after.front() != theirs->run_after.front())) {
    return std::nullopt;
  }
  if (!strictly_sorted(run_with(*ours, ours->entries)) || !strictly_sorted(run_with(*theirs, theirs->entries))) {
    return std::nullopt;
  }
  // Both sides' additions in order between those two entries; no name twice (strictly increasing).
  std::vector<Entry> all(ours->entries);
  all.insert(all.end(), theirs->entries.begin(), theirs->entries.end());
  std::stable_sort(all.begin(), all.end(), [](const Entry& x, const Entry& y) { return x.key < y.key; });
  std::vector<std::string> merged{ours->run_before.back()};
  for (const auto& e : all) merged.push_back(e.key);
  if (!ours->run_after.empty()) merged.push_back(ours->run_after.front());
  if (!strictly_sorted(merged)) return std::nullopt;
  for (const auto& e : all) {
    for (const auto* others : {&ours->others, &theirs->others}) {
      if (std::find(others->begin(), others->end(), e.key) != others->end()) return std::nullopt;
    }
  }
  std::string out = ours->lead;
  for (std::size_t i = 0; i < all.size(); ++i) out += (i > 0 ? ours->gap : "") + all[i].text;
  return out + ours->trail;
}

}  // namespace fab::resolve
