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
  // Evidence that the list is sorted: two entries of it before the region, or one on each side.
  const bool next_is_entry = !region.after.empty() && same_shape(region.after.front());
  const bool two_before = region.before.size() >= 2 && same_shape(region.before[region.before.size() - 2]);
  if (!next_is_entry && !two_before) return std::nullopt;
  auto run_with = [&](const std::vector<std::string_view>& added) {
    std::vector<std::string_view> run;
    if (two_before) run.push_back(region.before[region.before.size() - 2]);
    run.push_back(region.before.back());
    run.insert(run.end(), added.begin(), added.end());
    if (next_is_entry) run.push_back(region.after.front());
    return run;
  };
  std::vector<std::string_view> all(o);
  all.insert(all.end(), t.begin(), t.end());
  std::sort(all.begin(), all.end(), [](std::string_view x, std::string_view y) { return without_eol(x) < without_eol(y); });
  if (!increasing(run_with(o)) || !increasing(run_with(t)) || !increasing(run_with(all))) return std::nullopt;
  std::string out;
  for (auto l : all) out += l;
  return out;
}

}  // namespace fab::resolve
