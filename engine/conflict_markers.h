#pragma once
// Conflict markers a change ADDS, found in its git-format diff with the one marker grammar
// (plugins/resolve/conflict_markers.h: jj's and git's markers of every length, headings' `=`
// underlines excepted). jj stops seeing a conflict as soon as its markers no longer parse (an
// agent edited around them), and then the marker lines are plain text that would merge onto
// trunk; the floor refuses such a change before inspection and again right before trunk moves.
// Files the diff shows only as "Binary files ... differ" are read whole (markers after a NUL byte
// count too): their marker lines beyond those the parent had are added.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "substrate/error.h"

namespace fab {
class Repo;
}

namespace fab::engine {

struct MarkedFile {
  std::string path;
  std::vector<std::string> lines;  // the added marker lines, as written
};

// A file's content in the change (`in_change`) or in its parent; nothing when absent there.
using ReadFile = std::function<Result<std::optional<std::string>>(const std::string& path, bool in_change)>;

// The files whose added lines in `git_diff` include conflict markers, in diff order; binary files
// are read with `read` (without one, they are not checked).
Result<std::vector<MarkedFile>> added_conflict_markers(std::string_view git_diff, const ReadFile& read);
// The same for the commit `commit` of `repo` (a commit ID or change ID), whose diff `git_diff` is:
// binary files are read from it and its parent.
Result<std::vector<MarkedFile>> added_conflict_markers(const Repo& repo, const std::string& commit,
                                                       std::string_view git_diff);

// Feedback naming the files and saying what to do. `written_by` maps a path to the resolver that
// wrote it when the item was refined: markers in such a file are that resolver's fault, not the
// agent's, and the feedback says so.
std::string conflict_marker_feedback(const std::vector<MarkedFile>& files,
                                     const std::map<std::string, std::string>& written_by = {});

}  // namespace fab::engine
