#pragma once
// How a requirement document is split into work items ("the default smelter").
#include <optional>
#include <string_view>

namespace fab {

enum class Decompose {
  headings,   // each level-2 heading `## Title` is one item
  checklist,  // each top-level `- [ ] text` is one item
};

inline std::string_view to_string(Decompose d) {
  return d == Decompose::headings ? "headings" : "checklist";
}

inline std::optional<Decompose> decompose_from_string(std::string_view s) {
  if (s == "headings") {
    return Decompose::headings;
  }
  if (s == "checklist") {
    return Decompose::checklist;
  }
  return std::nullopt;
}

}  // namespace fab
