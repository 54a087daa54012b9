#pragma once
// A requirement: the markdown document saying what to build, split into items ("the default
// smelter"). With `decompose: headings` each level-2 ATX heading `## Title` is an item whose body
// runs to the next level-1 or level-2 heading; with `decompose: checklist` each unchecked top-level
// `- [ ] Title` (or `* [ ]`, `+ [ ]`) is an item whose body is the indented lines below it, dedented
// (checked `- [x]` entries are already done: not items). Headings and checkboxes inside fenced code
// (``` or ~~~) are ignored. A body line `Depends on: Title A, Title B` makes the item depend on
// those items (exact titles; depending on a checked checklist entry is already satisfied).
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "blueprints/decompose.h"
#include "substrate/error.h"

namespace fab {

struct Section {
  std::string title;
  std::string body;  // without leading/trailing blank lines; the Depends on lines stay in it
  int line = 0;      // 1-based line of the heading or checklist entry
  std::vector<std::size_t> depends_on;          // indices into Requirement::sections, no repeats
  std::vector<std::string> depends_on_titles;   // the same items' titles, same order
};

struct Requirement {
  std::string source_path;
  std::vector<Section> sections;  // in document order
};

// Splits and validates a requirement. Errors name `source_name:line[:col]`: text that is not UTF-8,
// empty or duplicate titles, unknown titles in Depends on (with a did-you-mean), self-dependencies,
// dependency cycles (`A -> B -> A`), and a document with no items (line 1).
Result<Requirement> parse_requirement(std::string_view text, std::string source_name, Decompose mode);
Result<Requirement> parse_requirement_file(const std::filesystem::path& path, Decompose mode);

// Section indices ordered so every item comes after the items it depends on; among items that are
// ready at the same time, document order wins. Assumes no cycles (parse_requirement rejects them).
std::vector<std::size_t> topological_order(const Requirement& requirement);

// {"source_path", "sections": [{"title", "line", "body", "depends_on": [titles]}]}
nlohmann::json to_json(const Requirement& requirement);

}  // namespace fab
