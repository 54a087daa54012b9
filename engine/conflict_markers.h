#pragma once
// Conflict markers an item's change ADDS, found in its git-format diff. jj stops seeing a conflict
// as soon as its markers no longer parse (an agent edited around them), and then the marker lines
// are plain text that would merge onto trunk; the floor refuses such a change before inspection and
// again right before trunk moves. Marker lines: "<<<<<<< ", ">>>>>>> ", "%%%%%%% ", "+++++++ ",
// "||||||| ", "\\\\\\\ " (each 7 characters then a space, as jj and git write them) or exactly "=======".
#include <string>
#include <string_view>
#include <vector>

namespace fab::engine {

struct MarkedFile {
  std::string path;
  std::vector<std::string> lines;  // the added marker lines, as written
};

bool is_conflict_marker(std::string_view line);
// The files whose added lines in `git_diff` include conflict markers, in diff order.
std::vector<MarkedFile> added_conflict_markers(std::string_view git_diff);
// Feedback for the agent naming the files and saying what to do.
std::string conflict_marker_feedback(const std::vector<MarkedFile>& files);

}  // namespace fab::engine
