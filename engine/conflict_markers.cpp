#include "engine/conflict_markers.h"

#include <algorithm>

#include <fmt/format.h>

#include "plugins/resolve/conflict_markers.h"
#include "plugins/resolve/line_diff.h"
#include "substrate/repo.h"

namespace fab::engine {

namespace {

// "diff --git a/<path> b/<path>": the new path is the second half.
std::string path_of(std::string_view header) {
  const auto rest = header.substr(11);
  const auto b = rest.find(" b/");
  return std::string(b == std::string_view::npos ? rest : rest.substr(b + 3));
}

// The marker lines of a whole file, as text.
std::vector<std::string> marker_lines(std::string_view content) {
  const auto lines = resolve::split_lines(content);
  std::vector<std::string> out;
  for (const auto& m : resolve::find_marker_lines(lines)) out.emplace_back(resolve::without_eol(lines[m.index]));
  return out;
}

// The marker lines `after` has beyond those `before` had (as many times as they occur).
std::vector<std::string> added_lines(std::vector<std::string> before, std::vector<std::string> after) {
  std::vector<std::string> out;
  for (auto& line : after) {
    auto it = std::find(before.begin(), before.end(), line);
    if (it != before.end()) {
      before.erase(it);
    } else {
      out.push_back(std::move(line));
    }
  }
  return out;
}

// One file's part of the diff: its hunks' lines as they are in the new file, and which were added.
struct NewLines {
  std::vector<std::string_view> lines;
  std::vector<bool> added;
};

Status check_file(const std::string& path, const NewLines& hunks, bool binary, const ReadFile& read,
                  std::vector<MarkedFile>& files) {
  std::vector<std::string> found;
  if (binary) {
    if (!read) return {};
    FAB_TRY_ASSIGN(auto after, read(path, true));
    FAB_TRY_ASSIGN(auto before, read(path, false));
    found = added_lines(before ? marker_lines(*before) : std::vector<std::string>{},
                        after ? marker_lines(*after) : std::vector<std::string>{});
  } else {
    for (const auto& m : resolve::find_marker_lines(hunks.lines)) {
      if (hunks.added[m.index]) found.emplace_back(resolve::without_eol(hunks.lines[m.index]));
    }
  }
  if (!found.empty()) files.push_back({path, std::move(found)});
  return {};
}

}  // namespace

Result<std::vector<MarkedFile>> added_conflict_markers(std::string_view diff, const ReadFile& read) {
  std::vector<MarkedFile> files;
  std::string path;
  NewLines hunks;
  bool binary = false, in_hunk = false;
  auto flush = [&]() -> Status {
    if (!path.empty()) FAB_TRY(check_file(path, hunks, binary, read, files));
    hunks = {};
    binary = in_hunk = false;
    return {};
  };
  for (std::size_t at = 0; at < diff.size();) {
    auto nl = diff.find('\n', at);
    if (nl == std::string_view::npos) nl = diff.size();
    const auto line = diff.substr(at, nl - at);
    at = nl + 1;
    if (line.substr(0, 11) == "diff --git ") {
      FAB_TRY(flush());
      path = path_of(line);
      continue;
    }
    if (!in_hunk && line.starts_with("Binary files ") && line.ends_with(" differ")) {
      binary = true;
      continue;
    }
    if (line.substr(0, 3) == "@@ ") {
      in_hunk = true;
      // Lines of different hunks are not next to each other: a gap, so no context spans it.
      if (!hunks.lines.empty()) {
        hunks.lines.emplace_back("\n");
        hunks.added.push_back(false);
      }
      continue;
    }
    if (!in_hunk || line.empty() || (line.front() != '+' && line.front() != ' ')) continue;
    hunks.lines.push_back(line.substr(1));
    hunks.added.push_back(line.front() == '+');
  }
  FAB_TRY(flush());
  return files;
}

Result<std::vector<MarkedFile>> added_conflict_markers(const Repo& repo, const std::string& commit,
                                                       std::string_view git_diff) {
  return added_conflict_markers(git_diff, [&](const std::string& path, bool in_change) {
    return repo.file_content(in_change ? commit : commit + "-", path);
  });
}

std::string conflict_marker_feedback(const std::vector<MarkedFile>& files,
                                     const std::map<std::string, std::string>& written_by) {
  std::string agent, resolver;
  for (const auto& f : files) {
    const std::string entry = fmt::format("  {} ({} marker line{}, first: {})\n", f.path, f.lines.size(),
                                          f.lines.size() == 1 ? "" : "s", f.lines.front());
    if (auto it = written_by.find(f.path); it != written_by.end()) {
      resolver += fmt::format("  {} (written by the refinery `{}`){}", f.path, it->second, entry.substr(2 + f.path.size()));
    } else {
      agent += entry;
    }
  }
  std::string text;
  if (!resolver.empty()) {
    text += "the refinery wrote conflict markers into these files while settling their conflicts with trunk; that "
            "is the resolver's fault, not your change's. Resolve these conflicts yourself (keep the intended content "
            "of every side, delete every marker line):\n" +
            resolver;
  }
  if (!agent.empty()) {
    text += "your change adds conflict markers (jj's or git's <<<<<<< / %%%%%%% / +++++++ / ======= / >>>>>>> lines); "
            "resolve the markers in these files: keep the intended content of every side and delete every marker "
            "line:\n" +
            agent;
  }
  return text;
}

}  // namespace fab::engine
