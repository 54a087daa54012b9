// "sorted-insert": both sides added entries to the same sorted list.
#include <algorithm>
#include <cctype>
#include <string>

#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/region_rules.h"

namespace fab::resolve {

namespace {

// An entry's shape: its indentation and first word (or first character): "#include", "LIB_OBJS",
// "\t\"", "- ". Entries of one list share it.
std::string_view shape(std::string_view line) {
  line = without_eol(line);
  std::size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos) return {};
  std::size_t j = i;
  while (j < line.size() && (std::isalnum(static_cast<unsigned char>(line[j])) || line[j] == '_')) ++j;
  if (j == i) ++j;
  return line.substr(0, j);
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  line = without_eol(line);
  for (std::size_t i = line.find_first_not_of(" \t"); i != std::string_view::npos; i = line.find_first_not_of(" \t", i)) {
    std::size_t j = std::min(line.find_first_of(" \t", i), line.size());
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Entries name things in the list's first field that differs from entry to entry ("LIB_OBJS +=
// foo.o": the third). Two entries with one name are one thing in two versions (go.sum's modules,
// requirements' packages): not two additions.
bool distinct_names(const std::vector<std::string_view>& run) {
  std::vector<std::vector<std::string_view>> f;
  for (auto l : run) f.push_back(fields(l));
  std::size_t key = 0;
  for (;; ++key) {
    bool all_have = true, differ = false;
    for (const auto& e : f) all_have = all_have && key < e.size();
    if (!all_have) return false;
    for (const auto& e : f) differ = differ || e[key] != f.front()[key];
    if (differ) break;
  }
  std::vector<std::string_view> names;
  for (const auto& e : f) names.push_back(e[key]);
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) == names.end();
}

bool increasing(const std::vector<std::string_view>& run) {
  for (std::size_t i = 1; i < run.size(); ++i) {
    if (!(without_eol(run[i - 1]) < without_eol(run[i]))) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> settle_sorted_insert(const Region& region) {
  if (!region.base.empty() || region.before.empty()) return std::nullopt;
  const auto o = split_lines(region.ours), t = split_lines(region.theirs);
  if (o.empty() || t.empty() || without_eol(o.back()) == o.back() || without_eol(t.back()) == t.back()) return std::nullopt;
  const std::string_view key = shape(region.before.back());
  if (key.empty()) return std::nullopt;
  auto same_shape = [&](std::string_view l) { return shape(l) == key; };
  if (!std::all_of(o.begin(), o.end(), same_shape) || !std::all_of(t.begin(), t.end(), same_shape)) return std::nullopt;
  // Evidence that the list is sorted: at least three entries of it around the region (the nearest
  // ones of its shape, next to each other), in order with each side's additions.
  std::vector<std::string_view> above, below;
  for (auto it = region.before.rbegin(); it != region.before.rend() && same_shape(*it); ++it) above.insert(above.begin(), *it);
  for (auto it = region.after.begin(); it != region.after.end() && same_shape(*it); ++it) below.push_back(*it);
  if (above.empty() || above.size() + below.size() < 3) return std::nullopt;
  auto run_with = [&](const std::vector<std::string_view>& added) {
    std::vector<std::string_view> run(above);
    run.insert(run.end(), added.begin(), added.end());
    run.insert(run.end(), below.begin(), below.end());
    return run;
  };
  std::vector<std::string_view> all(o);
  all.insert(all.end(), t.begin(), t.end());
  std::sort(all.begin(), all.end(), [](std::string_view x, std::string_view y) { return without_eol(x) < without_eol(y); });
  const auto merged = run_with(all);
  if (!increasing(run_with(o)) || !increasing(run_with(t)) || !increasing(merged) || !distinct_names(merged)) {
    return std::nullopt;
  }
  std::string out;
  for (auto l : all) out += l;
  return out;
}

}  // namespace fab::resolve
