#include "engine/conflict_markers.h"

#include <fmt/format.h>

namespace fab::engine {

bool is_conflict_marker(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line == "=======") return true;
  for (std::string_view m : {"<<<<<<< ", ">>>>>>> ", "%%%%%%% ", "+++++++ ", "||||||| ", "\\\\\\\\\\\\\\ "}) {
    if (line.substr(0, m.size()) == m) return true;
  }
  return false;
}

std::vector<MarkedFile> added_conflict_markers(std::string_view diff) {
  std::vector<MarkedFile> files;
  std::string path;
  bool in_hunk = false;
  bool recorded = false;
  for (std::size_t at = 0; at < diff.size();) {
    auto nl = diff.find('\n', at);
    if (nl == std::string_view::npos) nl = diff.size();
    const auto line = diff.substr(at, nl - at);
    at = nl + 1;
    if (line.substr(0, 11) == "diff --git ") {
      // "diff --git a/<path> b/<path>": the new path is the second half.
      const auto rest = line.substr(11);
      const auto b = rest.find(" b/");
      path = std::string(b == std::string_view::npos ? rest : rest.substr(b + 3));
      in_hunk = false;
      recorded = false;
      continue;
    }
    if (line.substr(0, 3) == "@@ ") {
      in_hunk = true;
      continue;
    }
    if (!in_hunk || line.empty() || line.front() != '+') continue;
    const auto added = line.substr(1);
    if (!is_conflict_marker(added)) continue;
    if (!recorded) {
      files.push_back({path, {}});
      recorded = true;
    }
    files.back().lines.emplace_back(added);
  }
  return files;
}

std::string conflict_marker_feedback(const std::vector<MarkedFile>& files) {
  std::string text =
      "your change adds conflict markers (jj's or git's <<<<<<< / %%%%%%% / +++++++ / ======= / >>>>>>> lines); "
      "resolve the markers in these files: keep the intended content of every side and delete every marker "
      "line:\n";
  for (const auto& f : files) {
    text += fmt::format("  {} ({} marker line{}, first: {})\n", f.path, f.lines.size(), f.lines.size() == 1 ? "" : "s",
                        f.lines.front());
  }
  return text;
}

}  // namespace fab::engine
